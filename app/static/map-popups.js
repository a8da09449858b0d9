// What a click on the map shows: a facility's distances to the nearest port, IKN and airport
// (GET /facilities/nearest), a parcel's properties and distances (GET /parcels/{id}/distances),
// or else the areas drawn where the click fell (zones, constraint areas, administrative areas).

import {labelText} from "./map-labels.js";
import {FACILITY_KINDS} from "./map-style.js";

// The distances a popup lists: the nearest facility of each kind, IKN being the capital.
const DISTANCES = [["port", "Nearest port"], ["capital", "IKN"], ["airport", "Nearest airport"]];

export function km(metres) { return (metres / 1000).toFixed(2) + " km"; }

export function escape(text) {
  const d = document.createElement("div");
  d.textContent = text ?? "";
  return d.innerHTML;
}

const row = (label, value) => `<tr><td>${label}</td><td>${value}</td></tr>`;

function distanceRow(kind, label, nearest) {
  if (nearest === undefined) return row(label, "unavailable");
  if (nearest === null) return `<tr class="popup-${kind}"><td>${label}</td><td>none</td></tr>`;
  if (nearest.self) return `<tr class="popup-${kind}" data-self><td>${label}</td><td>this facility</td></tr>`;
  return `<tr class="popup-${kind}" data-code="${escape(nearest.code)}" data-distance-m="${nearest.distance_m}">
    <td>${label}</td><td><span title="${escape(nearest.name)}">${escape(labelText(nearest))}</span>:
    <b>${km(nearest.distance_m)}</b></td></tr>`;
}

async function json(url) {
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return answer.json();
}

// The nearest facility of `kind` to a point other than the facility `code` itself (a port's
// nearest port is another port): {code, name, distance_m}; {self: true} when the facility is
// the only one of its kind, null when there is none, undefined when the service did not answer.
async function nearestOther(lon, lat, kind, code) {
  try {
    const found = await json(`/facilities/nearest?lon=${lon}&lat=${lat}&kind=${kind}&limit=2`);
    const other = found.features.find((f) => f.properties.code !== code);
    if (other) {
      const {name, attributes, distance_m} = other.properties;
      return {code: other.properties.code, name, attributes, distance_m};
    }
    return found.features.length ? {self: true} : null;
  } catch {
    return undefined;
  }
}

export async function showFacility(map, feature, lngLat) {
  const {code, name, kind} = feature.properties;
  const [lon, lat] = feature.geometry.type === "Point" ? feature.geometry.coordinates : [lngLat.lng, lngLat.lat];
  const popup = new maplibregl.Popup({maxWidth: "360px"}).setLngLat([lon, lat])
    .setHTML(`<div class="popup">Loading ${escape(name)} ...</div>`).addTo(map);
  const nearest = await Promise.all(DISTANCES.map(([k]) => nearestOther(lon, lat, k, code)));
  const from = feature.geometry.type === "Point" ? "" : row("", "distances from the point clicked");
  popup.setHTML(`<table class="popup facility-popup" data-code="${escape(code)}" data-lon="${lon}" data-lat="${lat}">
    ${row("Facility", `<b>${escape(name)}</b>`)}
    ${row("Kind", escape(FACILITY_KINDS[kind] ? FACILITY_KINDS[kind].title : kind))}${from}
    ${DISTANCES.map(([k, label], i) => distanceRow(k, label, nearest[i])).join("")}</table>`);
}

export async function showParcel(map, parcel, lngLat) {
  const popup = new maplibregl.Popup({maxWidth: "340px"}).setLngLat(lngLat)
    .setHTML(`<div class="popup">Loading parcel ${parcel.id} ...</div>`).addTo(map);
  let nearest = {};
  try {
    nearest = (await json(`/parcels/${parcel.id}/distances?kinds=port,capital,airport`)).nearest;
  } catch {
    nearest = {port: undefined, capital: undefined, airport: undefined};
  }
  popup.setHTML(`<table class="popup" data-parcel-id="${parcel.id}">
    ${row("Parcel", `<b>${escape(parcel.code)}</b> (${parcel.id})`)}
    ${row("Status", escape(parcel.land_status))}${row("Rights", escape(parcel.land_rights))}
    ${row("Sector", escape(parcel.sector))}${row("Area", parcel.area_ha + " ha")}
    ${DISTANCES.map(([k, label]) => distanceRow(k, label, nearest[k] ?? (k in nearest ? null : undefined))).join("")}
  </table>`);
}

// The areas under a click, one line each: the layer's title and the area's name and code.
export function showAreas(map, features, titles, lngLat) {
  const seen = new Set();
  const lines = [];
  for (const f of features) {
    const layer = f.layer.source;
    const key = `${layer}/${f.properties.code ?? f.properties.id ?? f.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const what = [f.properties.name, f.properties.code].filter((v) => v !== undefined && v !== null && v !== "");
    lines.push(`<tr data-layer="${escape(layer)}"><td>${escape(titles[layer] || layer)}</td>
      <td>${escape(what.join(", "))}</td></tr>`);
  }
  if (lines.length) {
    new maplibregl.Popup({maxWidth: "360px"}).setLngLat(lngLat)
      .setHTML(`<table class="popup areas-popup">${lines.join("")}</table>`).addTo(map);
  }
}
