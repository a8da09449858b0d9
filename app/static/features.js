// The small map of an OGC API page: the page's features (GeoJSON in CRS84, in #features) drawn
// by the vendored MapLibre GL on a plain background; no tiles, fonts or sprites from anywhere.
const element = document.getElementById("map");
const data = JSON.parse(document.getElementById("features").textContent);
// MapLibre keeps only numeric feature ids; zones and facilities are keyed by code.
for (const feature of data.features) feature.properties = {...feature.properties, fid: feature.id};

const POLYGONS = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
const LINES = ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString"]]];
const POINTS = ["in", ["geometry-type"], ["literal", ["Point", "MultiPoint"]]];
const map = new maplibregl.Map({
  container: element,
  style: {version: 8, sources: {features: {type: "geojson", data}}, layers: [
    {id: "background", type: "background", paint: {"background-color": "#eef2ee"}},
    {id: "features-fill", type: "fill", source: "features", filter: POLYGONS,
     paint: {"fill-color": "#2ca02c", "fill-opacity": 0.35}},
    {id: "features-line", type: "line", source: "features", filter: ["any", POLYGONS, LINES],
     paint: {"line-color": "#ff7f0e", "line-width": 1.5}},
    {id: "features-point", type: "circle", source: "features", filter: POINTS,
     paint: {"circle-radius": 6, "circle-color": "#d62728", "circle-stroke-color": "#fff",
             "circle-stroke-width": 1.5}},
  ]},
  bounds: bounds(data.features),
  fitBoundsOptions: {padding: 30, maxZoom: 16},
});
map.addControl(new maplibregl.NavigationControl({showCompass: false}));
map.addControl(new maplibregl.ScaleControl());
window.featureMap = map;   // for scripts and tests

function bounds(features) {
  const box = new maplibregl.LngLatBounds();
  const add = (c) => (typeof c[0] === "number" ? box.extend([c[0], c[1]]) : c.forEach(add));
  const visit = (g) => (g.type === "GeometryCollection" ? g.geometries.forEach(visit) : add(g.coordinates));
  for (const feature of features) visit(feature.geometry);
  return box;
}

// On a page of items, a click on a feature links to that feature's own page.
const itemsUrl = element.dataset.itemsUrl;
if (itemsUrl) {
  const layers = ["features-fill", "features-line", "features-point"];
  map.on("click", (event) => {
    const [hit] = map.queryRenderedFeatures(event.point, {layers});
    if (!hit) return;
    const link = document.createElement("a");
    link.href = `${itemsUrl}/${encodeURIComponent(hit.properties.fid)}?f=html`;
    link.textContent = `Feature ${hit.properties.fid}`;
    new maplibregl.Popup().setLngLat(event.lngLat).setDOMContent(link).addTo(map);
  });
  for (const layer of layers) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
  }
}
