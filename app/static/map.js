const config = JSON.parse(document.getElementById("config").textContent);
const STATUS_COLOURS = {available: "#2ca02c", reserved: "#ffbf00", allocated: "#1f77b4", occupied: "#7f7f7f"};

const style = {version: 8, sources: {}, layers: [
  {id: "background", type: "background", paint: {"background-color": "#eef2ee"}}]};
if (config.basemap) {
  style.sources.basemap = {type: "raster", tiles: [config.basemap], tileSize: 256,
                           attribution: config.basemap_attribution || ""};
  style.layers.push({id: "basemap", type: "raster", source: "basemap"});
}
const map = new maplibregl.Map({container: "map", style, center: [116.795, -1.118], zoom: 13.5});
map.addControl(new maplibregl.NavigationControl());
map.addControl(new maplibregl.ScaleControl());
window.kaltimMap = map;   // for scripts and tests

document.getElementById("legend").innerHTML = Object.entries(STATUS_COLOURS).map(
  ([status, colour]) => `<div><span class="swatch" style="background:${colour}"></span>${status}</div>`).join("");

map.on("load", async () => {
  map.addSource("zones", {type: "geojson", data: "/zones?limit=1000"});
  map.addSource("parcels", {type: "vector", url: "/tiles/parcels.json"});
  map.addSource("facilities", {type: "geojson", data: "/facilities?limit=1000"});
  map.addLayer({id: "zones-fill", type: "fill", source: "zones",
                paint: {"fill-color": "#ff7f0e", "fill-opacity": 0.08}});
  map.addLayer({id: "parcels-fill", type: "fill", source: "parcels", "source-layer": "parcels",
                paint: {"fill-color": ["match", ["get", "land_status"],
                                       ...Object.entries(STATUS_COLOURS).flat(), "#cccccc"],
                        "fill-opacity": 0.6}});
  map.addLayer({id: "parcels-line", type: "line", source: "parcels", "source-layer": "parcels",
                paint: {"line-color": "#ffffff", "line-width": 0.5}});
  map.addLayer({id: "zones-line", type: "line", source: "zones",
                paint: {"line-color": "#ff7f0e", "line-width": 2}});
  map.addLayer({id: "facilities", type: "circle", source: "facilities",
                filter: ["in", ["get", "kind"], ["literal", ["port", "capital", "airport"]]],
                paint: {"circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5,
                        "circle-color": ["match", ["get", "kind"], "port", "#d62728", "#9467bd"]}});

  const zones = await (await fetch("/zones?limit=1000")).json();
  document.getElementById("zones").innerHTML = zones.features.map(
    (z) => `<button data-zone="${z.id}">${z.properties.name}</button>`).join("");
  for (const button of document.querySelectorAll("#zones button")) {
    const zone = zones.features.find((z) => z.id === button.dataset.zone);
    button.onclick = () => map.fitBounds(bounds(zone.geometry), {padding: 40});
  }
});

function bounds(geometry) {
  const b = new maplibregl.LngLatBounds();
  for (const polygon of geometry.coordinates) for (const ring of polygon) for (const p of ring) b.extend(p);
  return b;
}

function km(metres) { return (metres / 1000).toFixed(2) + " km"; }
function escape(text) { const d = document.createElement("div"); d.textContent = text ?? ""; return d.innerHTML; }

map.on("click", "parcels-fill", async (event) => {
  const parcel = event.features[0].properties;
  const popup = new maplibregl.Popup({maxWidth: "320px"}).setLngLat(event.lngLat)
    .setHTML(`<div class="popup">Loading parcel ${parcel.id} ...</div>`).addTo(map);
  const answer = await fetch(`/parcels/${parcel.id}/distances?kinds=port,capital`);
  const nearest = (await answer.json()).nearest;
  const row = (label, value) => `<tr><td>${label}</td><td>${value}</td></tr>`;
  const facility = (kind, label) => nearest[kind]
    ? `<tr class="popup-${kind}" data-code="${escape(nearest[kind].code)}" data-distance-m="${nearest[kind].distance_m}">
         <td>${label}</td><td>${escape(nearest[kind].name)}: <b>${km(nearest[kind].distance_m)}</b></td></tr>`
    : row(label, "none");
  popup.setHTML(`<table class="popup" data-parcel-id="${parcel.id}">
    ${row("Parcel", `<b>${escape(parcel.code)}</b> (${parcel.id})`)}
    ${row("Status", escape(parcel.land_status))}${row("Rights", escape(parcel.land_rights))}
    ${row("Sector", escape(parcel.sector))}${row("Area", parcel.area_ha + " ha")}
    ${facility("port", "Nearest port")}${facility("capital", "IKN")}</table>`);
});
map.on("mouseenter", "parcels-fill", () => { map.getCanvas().style.cursor = "pointer"; });
map.on("mouseleave", "parcels-fill", () => { map.getCanvas().style.cursor = ""; });
