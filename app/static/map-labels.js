// Labels of the zones and facilities as HTML markers: MapLibre's own symbol layers need glyph
// files, which the service does not serve. After every move the labels are placed again, in
// order of priority: each takes the first of its candidate places that overlaps neither a label
// placed before it nor a facility's dot; a label with no free place is hidden until there is one.

const GAP = 9;  // pixels between a point and its label

// Shorter forms of the words names repeat, for labels; the full name is the label's tooltip.
const SHORTER = [
  [/^Bandar Udara( Internasional)?\b/, "Bandara"],
  [/^Terminal Peti Kemas\b/, "TPK"],
  [/\bPelabuhan\b/g, "Pel."],
  [/^Kawasan Ekonomi Khusus\b/, "KEK"],
  [/^Kawasan Industri\b/, "KI"],
  [/\bIbu Kota Nusantara\b/, "IKN"],
];

// A feature's label: `attributes.label` when it has one, otherwise its name up to the first
// parenthesis or comma, with the usual abbreviations.
export function labelText(properties) {
  const given = properties.attributes && properties.attributes.label;
  if (typeof given === "string" && given.trim()) return given.trim();
  let text = String(properties.name || properties.code || "").split(/ \(|, /)[0];
  for (const [pattern, short] of SHORTER) text = text.replace(pattern, short);
  return text.trim();
}

// A point inside a (multi)polygon to hang its label on: the centroid of its largest ring, or
// the middle of its box when the centroid falls outside (a concave outline).
export function labelPoint(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : null;
  if (!polygons) return geometry.type === "Point" ? geometry.coordinates : firstPosition(geometry.coordinates);
  let best = null;
  for (const polygon of polygons) {
    const ring = polygon[0];
    let area = 0, x = 0, y = 0;
    for (let i = 0; i < ring.length - 1; i++) {
      const [x0, y0] = ring[i], [x1, y1] = ring[i + 1];
      const cross = x0 * y1 - x1 * y0;
      area += cross; x += (x0 + x1) * cross; y += (y0 + y1) * cross;
    }
    if (area !== 0 && (!best || Math.abs(area) > Math.abs(best.area))) best = {area, ring, c: [x / (3 * area), y / (3 * area)]};
  }
  if (!best) return firstPosition(geometry.coordinates);
  if (inside(best.c, best.ring)) return best.c;
  const xs = best.ring.map((p) => p[0]), ys = best.ring.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

function firstPosition(coordinates) {
  return Array.isArray(coordinates[0]) ? firstPosition(coordinates[0]) : coordinates;
}

function inside([x, y], ring) {
  let found = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) found = !found;
  }
  return found;
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export class Labels {
  constructor(map) {
    this.map = map;
    this.items = [];
    this.hiddenLayers = new Set();
    this.obstacles = [];  // {lngLat, radius, layer}: the dots labels keep clear of
    map.on("moveend", () => this.place());
    map.on("resize", () => this.place());
  }

  // One label. `area` labels sit on their point (or above or below it); point labels beside it.
  add({text, title, lngLat, priority, layer, kind, className, dataset = {}, onClick, radius = 0}) {
    const element = document.createElement("div");
    element.className = `map-label map-label-${kind} ${className || ""}`.trim();
    element.textContent = text;
    element.title = title || text;
    Object.assign(element.dataset, dataset);
    if (onClick) {
      element.classList.add("map-label-active");
      element.addEventListener("click", (event) => { event.stopPropagation(); onClick(); });
    } else {
      element.style.pointerEvents = "none";
    }
    const marker = new maplibregl.Marker({element, anchor: "center"}).setLngLat(lngLat).addTo(this.map);
    this.items.push({element, marker, lngLat, priority, layer, area: kind === "area", radius, size: null});
    if (radius) this.obstacles.push({lngLat, radius, layer});
  }

  setLayerVisible(layer, visible) {
    if (visible) this.hiddenLayers.delete(layer); else this.hiddenLayers.add(layer);
    this.place();
  }

  candidates(item, w, h) {
    const beside = item.radius + GAP;
    const right = [beside + w / 2, 0], left = [-(beside + w / 2), 0];
    const above = [0, -(beside + h / 2)], below = [0, beside + h / 2];
    const diagonal = (sx, sy) => [sx * (item.radius + w / 2), sy * (item.radius + h / 2 + 2)];
    return item.area
      ? [[0, 0], [0, -(h + GAP)], [0, h + GAP], [w / 2 + GAP, 0], [-(w / 2 + GAP), 0]]
      : [right, left, above, below, diagonal(1, -1), diagonal(-1, -1), diagonal(1, 1), diagonal(-1, 1)];
  }

  place() {
    const canvas = this.map.getCanvas();
    const width = canvas.clientWidth, height = canvas.clientHeight;
    const taken = this.obstacles
      .filter((o) => !this.hiddenLayers.has(o.layer))
      .map((o) => {
        const p = this.map.project(o.lngLat);
        return {x: p.x - o.radius - 1, y: p.y - o.radius - 1, w: 2 * o.radius + 2, h: 2 * o.radius + 2};
      });
    for (const item of [...this.items].sort((a, b) => a.priority - b.priority)) {
      const {element} = item;
      if (this.hiddenLayers.has(item.layer)) { element.hidden = true; continue; }
      element.hidden = false;
      if (!item.size) item.size = [element.offsetWidth, element.offsetHeight];
      const [w, h] = item.size;
      const p = this.map.project(item.lngLat);
      if (p.x < -w || p.y < -h || p.x > width + w || p.y > height + h) continue;  // far out of view
      const boxes = this.candidates(item, w, h).map(([dx, dy]) =>
        ({dx, dy, x: p.x + dx - w / 2, y: p.y + dy - h / 2, w, h}));
      const free = (b) => !taken.some((t) => overlaps(b, t));
      const within = (b) => b.x >= 0 && b.y >= 0 && b.x + b.w <= width && b.y + b.h <= height;
      const chosen = boxes.find((b) => free(b) && within(b)) || boxes.find(free);
      element.classList.toggle("map-label-crowded", !chosen);
      if (chosen) {
        item.marker.setOffset([chosen.dx, chosen.dy]);
        taken.push(chosen);
      }
    }
  }
}
