// /map: the land on an offline base (the province's regencies as land on a sea-coloured
// background, district and village boundaries closer in), every layer of the catalogue with a
// switch and a legend, labels of the zones and facilities, and popups with distances.

import {FACILITY_KINDS, PALETTE, drawing, style} from "./map-style.js";
import {Labels, labelPoint, labelText} from "./map-labels.js";
import {escape, showAreas, showFacility, showParcel} from "./map-popups.js";

const config = JSON.parse(document.getElementById("config").textContent);
// Balikpapan Bay: the Kariangau and Buluminung zones, their ports, the airport and IKN.
const VIEW = {center: [116.77, -1.12], zoom: 10.3};
const GROUPS = {core: "Land and facilities", constraint: "Constraints", admin: "Administrative areas"};
// Labels in order of priority: a label gives way to those before it.
const PRIORITY = {capital: 0, zone: 1, airport: 2, port: 3, city: 4};

async function json(url) {
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`${url} answered ${answer.status}`);
  return answer.json();
}

function notice(text) {
  document.getElementById("notice").textContent = text;
}

async function start() {
  const empty = {type: "FeatureCollection", features: []};
  const [catalogue, zones, facilities] = await Promise.all([
    json("/map/layers.json").then((c) => c.layers),
    json("/zones?limit=1000").catch(() => empty),
    json("/facilities?limit=1000").catch(() => empty),
  ]).catch((error) => { notice(`The map's layers could not be read (${error.message}).`); return [[], empty, empty]; });

  const data = {zones, facilities};
  let taken = 0;  // the palette's colours go to the layers drawn in one, in the catalogue's order
  const nextColour = () => PALETTE[taken++ % PALETTE.length];
  const layers = catalogue.map((layer) => ({...layer, drawing: drawing(layer, data, nextColour)}));

  // North up and flat: the labels and the legend read as a paper map does.
  const map = new maplibregl.Map({
    container: "map", ...VIEW, maxPitch: 0, dragRotate: false, pitchWithRotate: false,
    style: style(layers.map((l) => l.drawing), {url: config.basemap, attribution: config.basemap_attribution}),
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({showCompass: false}));
  map.addControl(new maplibregl.ScaleControl());
  window.kaltimMap = map;   // for scripts and tests

  const labels = new Labels(map);
  switcher(map, layers, labels);
  zoneButtons(map, zones);
  // Markers need no style: the labels are placed at once (a basemap tile that fails can keep
  // MapLibre's "load" event from ever firing).
  addLabels(map, labels, zones, facilities);
  labels.place();
  clicks(map, layers, facilities);
}

// The layer switcher and legend: the layers grouped (core, constraint, admin, then any other
// group), each with a checkbox that shows or hides its style layers and labels, and its legend.
function switcher(map, layers, labels) {
  const panel = document.getElementById("layers");
  const groups = [...new Set([...Object.keys(GROUPS), ...layers.map((l) => l.group)])];
  panel.innerHTML = groups.map((group) => {
    const members = layers.filter((l) => l.group === group);
    if (!members.length && group !== "constraint") return "";
    const rows = members.map((l) => {
      const swatch = (e) => `<span class="swatch swatch-${e.swatch}" style="--colour: ${e.colour}"
        data-colour="${e.colour}"></span>`;
      const inline = l.drawing.legend.filter((e) => e.inline);
      const listed = l.drawing.legend.filter((e) => !e.inline);
      const columns = listed.length > 2 && listed.every((e) => e.text.length <= 12) ? " columns" : "";
      return `<li class="layer" data-layer="${escape(l.id)}" data-minzoom="${shownFrom(l)}">
        <label title="${escape(inline.map((e) => e.text).join(", "))}"><input type="checkbox" checked
          data-layer="${escape(l.id)}">${inline.map(swatch).join("")}${escape(l.title)}</label>
        <ul class="legend${columns}">${listed.map((e) => `
          <li data-legend="${escape(e.text)}">${swatch(e)}${escape(e.text)}</li>`).join("")}</ul>
      </li>`;
    }).join("");
    const none = members.length ? "" : `<li class="none">None yet: admins add them with POST /layers.</li>`;
    return `<section class="group" data-group="${escape(group)}">
      <h3>${escape(GROUPS[group] || group)}</h3><ul class="layers">${rows}${none}</ul></section>`;
  }).join("");
  for (const box of panel.querySelectorAll("input[type=checkbox]")) {
    box.addEventListener("change", () => {
      const layer = layers.find((l) => l.id === box.dataset.layer);
      const visibility = box.checked ? "visible" : "none";
      for (const spec of layer.drawing.layers) {
        if (map.getLayer(spec.id)) map.setLayoutProperty(spec.id, "visibility", visibility);
      }
      labels.setLayerVisible(layer.id, box.checked);
    });
  }
  const dim = () => {
    for (const item of panel.querySelectorAll("li.layer")) {
      item.classList.toggle("out-of-zoom", map.getZoom() < Number(item.dataset.minzoom));
    }
  };
  map.on("zoomend", dim);
  dim();
}

// The zoom from which a layer's drawing shows.
function shownFrom(layer) {
  const own = layer.drawing.layers.map((spec) => spec.minzoom ?? 0);
  return Math.max(layer.minzoom ?? 0, own.length ? Math.min(...own) : 0);
}

function zoneButtons(map, zones) {
  const holder = document.getElementById("zones");
  holder.innerHTML = zones.features.map(
    (z) => `<button type="button" data-zone="${escape(z.id)}" title="${escape(z.properties.name)}">
      ${escape(labelText(z.properties))}</button>`).join("");
  for (const button of holder.querySelectorAll("button")) {
    const zone = zones.features.find((z) => String(z.id) === button.dataset.zone);
    button.onclick = () => map.fitBounds(bounds(zone.geometry), {padding: 40});
  }
}

function bounds(geometry) {
  const b = new maplibregl.LngLatBounds();
  const walk = (c) => (typeof c[0] === "number" ? b.extend(c) : c.forEach(walk));
  walk(geometry.coordinates);
  return b;
}

function addLabels(map, labels, zones, facilities) {
  for (const zone of zones.features) {
    labels.add({text: labelText(zone.properties), title: zone.properties.name, lngLat: labelPoint(zone.geometry),
                priority: PRIORITY.zone, layer: "zones", kind: "area", dataset: {label: `zone:${zone.properties.code}`}});
  }
  for (const facility of facilities.features) {
    const {code, kind, name} = facility.properties;
    if (!(kind in PRIORITY) || !facility.geometry) continue;
    const point = facility.geometry.type === "Point";
    const at = labelPoint(facility.geometry);
    labels.add({text: labelText(facility.properties), title: name, lngLat: at,
                priority: PRIORITY[kind], layer: "facilities", kind: "point", className: `map-label-${kind}`,
                radius: point ? (FACILITY_KINDS[kind] || FACILITY_KINDS.other).radius + 1.5 : 0,
                dataset: {label: `facility:${code}`, kind},
                onClick: () => showFacility(map, facility, {lng: at[0], lat: at[1]})});
  }
}

// A click opens one popup: a facility's if one is under it, else a parcel's, else the areas
// drawn there.
function clicks(map, layers, facilities) {
  const byCode = new Map(facilities.features.map((f) => [f.properties.code, f]));
  const titles = Object.fromEntries(layers.map((l) => [l.id, l.title]));
  const present = (ids) => ids.filter((id) => map.getLayer(id));
  const areaLayers = () => present(layers.flatMap((l) => l.drawing.layers)
    .filter((s) => s.type === "fill" && s.id !== "parcels-fill").map((s) => s.id));
  const near = (point, pixels) => [[point.x - pixels, point.y - pixels], [point.x + pixels, point.y + pixels]];

  map.on("click", (event) => {
    const [facility] = map.queryRenderedFeatures(near(event.point, 4), {layers: present(["facilities", "facilities-shape"])});
    if (facility) {
      showFacility(map, byCode.get(facility.properties.code) || facility, event.lngLat);
      return;
    }
    const [parcel] = map.queryRenderedFeatures(event.point, {layers: present(["parcels-fill"])});
    if (parcel) {
      showParcel(map, parcel.properties, event.lngLat);
      return;
    }
    showAreas(map, map.queryRenderedFeatures(event.point, {layers: areaLayers()}), titles, event.lngLat);
  });
  map.on("mousemove", (event) => {
    const under = map.queryRenderedFeatures(event.point, {layers: present(["facilities", "facilities-shape", "parcels-fill"])});
    map.getCanvas().style.cursor = under.length ? "pointer" : "";
  });
}

start();
