// How /map draws each layer of the catalogue (GET /map/layers.json): its sources, its MapLibre
// style layers, where they sit in the stack, and its legend entries. The built-in layers have
// their own drawing; any other layer (each constraint layer, and a layer added to the catalogue
// later) is drawn from its vector tiles by its geometry type, in a colour of its own.

export const SEA = "#c9dce8";            // the background: sea, and land outside the province
export const LAND = "#f5f2e9";
export const ZONE = "#ff7f0e";
export const STATUS_COLOURS = {available: "#2ca02c", reserved: "#ffbf00", allocated: "#1f77b4", occupied: "#7f7f7f"};
// Facilities by kind, in the order the legend lists them; labels take the same order of priority.
export const FACILITY_KINDS = {
  capital: {colour: "#b8860b", radius: 8, title: "IKN (capital)"},
  port: {colour: "#d62728", radius: 6, title: "port"},
  airport: {colour: "#9467bd", radius: 6, title: "airport"},
  city: {colour: "#4d4d4d", radius: 4, title: "city"},
  power: {colour: "#8c6d31", radius: 5, title: "power"},
  other: {colour: "#17becf", radius: 5, title: "other"},
};
// Constraint layers (and any other layer without a drawing of its own) take these in the order
// layers.json lists them, so that each has a colour of its own; none is a colour the built-in
// layers use.
export const PALETTE = ["#7b3294", "#008837", "#e7298a", "#0571b0", "#a6611a", "#c51b7d",
                        "#01665e", "#542788", "#b2182b", "#4d9221", "#2166ac", "#8c510a"];

// The stack, bottom to top; each style layer names its slot.
const SLOTS = ["land", "basemap", "areas", "boundaries", "zones", "parcels", "area-lines", "zone-lines", "points"];

const OUTLINE = {"line-color": "#ffffff", "line-width": 0.5};

function vector(layer) {
  return {type: "vector", url: layer.tilejson};
}

// Areas, lines and points of a tiled layer in one colour: the drawing of constraint layers and
// of any layer this page has no drawing of its own for.
function generic(layer, colour) {
  const source = layer.id;
  const from = {source, "source-layer": layer.id};
  const kind = (layer.geometry_type || "Geometry").replace("Multi", "");
  const polygons = ["==", ["geometry-type"], "Polygon"];
  const lines = ["==", ["geometry-type"], "LineString"];
  const points = ["==", ["geometry-type"], "Point"];
  const styleLayers = [];
  if (kind === "Polygon" || kind === "Geometry") {
    styleLayers.push(
      {slot: "areas", id: `${layer.id}-fill`, type: "fill", ...from, filter: polygons,
       paint: {"fill-color": colour, "fill-opacity": 0.3}},
      {slot: "area-lines", id: `${layer.id}-line`, type: "line", ...from, filter: polygons,
       paint: {"line-color": colour, "line-width": 1.5, "line-dasharray": [3, 1.5]}});
  }
  if (kind === "LineString" || kind === "Geometry") {
    styleLayers.push({slot: "area-lines", id: `${layer.id}-lines`, type: "line", ...from, filter: lines,
                      paint: {"line-color": colour, "line-width": 2}});
  }
  if (kind === "Point" || kind === "Geometry") {
    styleLayers.push({slot: "points", id: `${layer.id}-points`, type: "circle", ...from, filter: points,
                      paint: {"circle-color": colour, "circle-radius": 4,
                              "circle-stroke-color": "#fff", "circle-stroke-width": 1}});
  }
  return {sources: {[source]: vector(layer)}, layers: styleLayers,
          legend: [{swatch: "area", colour, text: layer.title, inline: true}]};
}

// The drawing of one layer of layers.json: {sources, layers (each with its slot), legend}. A
// legend entry is a swatch (area, zone, point, line, dashed, dotted), its colour and its text;
// an `inline` one is drawn beside the layer's title instead of below it. `data` holds the zones
// and facilities the page has fetched (drawn from GeoJSON: the page labels them and opens
// their popups); `nextColour()` gives a layer without a drawing of its own the next colour of
// the palette.
export function drawing(layer, data, nextColour) {
  const minzoom = (floor) => Math.max(floor, layer.minzoom ?? 0);
  switch (layer.id) {
    case "zones":
      return {sources: {zones: {type: "geojson", data: data.zones}}, layers: [
        {slot: "zones", id: "zones-fill", type: "fill", source: "zones",
         paint: {"fill-color": ZONE, "fill-opacity": 0.08}},
        {slot: "zone-lines", id: "zones-line", type: "line", source: "zones",
         paint: {"line-color": ZONE, "line-width": 2}}],
        legend: [{swatch: "zone", colour: ZONE, text: "industrial zone", inline: true}]};
    case "parcels":
      return {sources: {parcels: vector(layer)}, layers: [
        {slot: "parcels", id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
         minzoom: layer.minzoom,
         paint: {"fill-color": ["match", ["get", "land_status"], ...Object.entries(STATUS_COLOURS).flat(), "#cccccc"],
                 "fill-opacity": 0.6}},
        {slot: "parcels", id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
         minzoom: layer.minzoom, paint: OUTLINE}],
        legend: Object.entries(STATUS_COLOURS).map(([status, c]) => ({swatch: "area", colour: c, text: status}))};
    case "facilities": {
      const kinds = Object.keys(FACILITY_KINDS);
      const byKind = (field) => ["match", ["get", "kind"], ...kinds.flatMap((k) => [k, FACILITY_KINDS[k][field]]),
                                 FACILITY_KINDS.other[field]];
      const present = new Set(data.facilities.features.map((f) => f.properties.kind));
      return {sources: {facilities: {type: "geojson", data: data.facilities}}, layers: [
        {slot: "area-lines", id: "facilities-shape", type: "line", source: "facilities",
         filter: ["!=", ["geometry-type"], "Point"], paint: {"line-color": byKind("colour"), "line-width": 2}},
        {slot: "points", id: "facilities", type: "circle", source: "facilities",
         filter: ["==", ["geometry-type"], "Point"],
         paint: {"circle-radius": byKind("radius"), "circle-color": byKind("colour"),
                 "circle-stroke-color": "#fff", "circle-stroke-width": 1.5}}],
        legend: kinds.filter((k) => present.has(k)).map(
          (k) => ({swatch: "point", colour: FACILITY_KINDS[k].colour, text: FACILITY_KINDS[k].title}))};
    }
    case "regencies":
      return {sources: {regencies: vector(layer)}, layers: [
        {slot: "land", id: "regencies-fill", type: "fill", source: "regencies", "source-layer": "regencies",
         paint: {"fill-color": LAND, "fill-antialias": false}},
        {slot: "boundaries", id: "regencies-line", type: "line", source: "regencies", "source-layer": "regencies",
         paint: {"line-color": "#8a8173", "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.8, 12, 2]}}],
        legend: [{swatch: "area", colour: LAND, text: "land (Kalimantan Timur)"},
                 {swatch: "area", colour: SEA, text: "sea, and outside the province"},
                 {swatch: "line", colour: "#8a8173", text: "regency boundary"}]};
    case "districts":
      return {sources: {districts: vector(layer)}, layers: [
        {slot: "boundaries", id: "districts-line", type: "line", source: "districts", "source-layer": "districts",
         minzoom: minzoom(8), paint: {"line-color": "#a39a8b", "line-width": 1, "line-dasharray": [4, 2]}}],
        legend: [{swatch: "dashed", colour: "#a39a8b", text: "district boundary"}]};
    case "villages":
      return {sources: {villages: vector(layer)}, layers: [
        {slot: "boundaries", id: "villages-line", type: "line", source: "villages", "source-layer": "villages",
         minzoom: minzoom(10), paint: {"line-color": "#bdb5a6", "line-width": 0.8, "line-dasharray": [1, 2]}}],
        legend: [{swatch: "dotted", colour: "#bdb5a6", text: "village boundary"}]};
    default:
      return generic(layer, nextColour());
  }
}

// A MapLibre style: the sea as background, the optional raster basemap, then the layers' own
// style layers in the order of their slots. The land is drawn under the basemap, so that an
// unreachable basemap leaves the offline base in view.
export function style(drawings, basemap) {
  const sources = {};
  const stacked = [];
  for (const d of drawings) {
    Object.assign(sources, d.sources);
    stacked.push(...d.layers);
  }
  if (basemap.url) {
    sources["raster:basemap"] = {type: "raster", tiles: [basemap.url], tileSize: 256, attribution: basemap.attribution || ""};
    stacked.push({slot: "basemap", id: "basemap", type: "raster", source: "raster:basemap"});
  }
  stacked.sort((a, b) => SLOTS.indexOf(a.slot) - SLOTS.indexOf(b.slot));
  const layers = [{id: "background", type: "background", paint: {"background-color": SEA}},
                  ...stacked.map(({slot, ...spec}) => spec)];
  return {version: 8, sources, layers};
}
