"""The map page in a real browser (tests/browser.py): headless Chromium, reaching only the service.

One database and server for the module: seeded, with demo parcels, and a constraint layer made
as an admin makes one (POST /layers), its areas written by SQL.
"""

from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.browser import needs_chromium, offline_page, wait_until
from tests.conftest import API_KEY, AUTH, ROOT, prepared_database, serve

ARTIFACTS = ROOT / "test-artifacts"
LAYER = "hutan-uji"  # the constraint layer the module makes
# Its areas: east of Kariangau, and north of the airport, both in the map's first view.
AREAS = {
    "HU-1": (116.850, -1.100, 116.890, -1.060),
    "HU-2": (116.860, -1.200, 116.885, -1.175),
}

pytestmark = needs_chromium

# The map has loaded, drawn its parcels and placed its labels.
READY = (
    "() => window.kaltimMap && window.kaltimMap.loaded() && window.kaltimMap.areTilesLoaded() && "
    "window.kaltimMap.queryRenderedFeatures({layers: ['parcels-fill']}).length > 0 && "
    "document.querySelectorAll('.map-label').length > 0"
)


@dataclass
class Site:
    base: str  # the server's URL
    database: str  # its database's URL


@pytest.fixture(scope="module")
async def site(fresh_database) -> Site:
    url = await prepared_database(fresh_database, "kaltim_map", cell_m=250)
    with serve(url, api_keys=API_KEY) as base:
        made = httpx.post(
            f"{base}/layers",
            headers=AUTH,
            json={
                "name": LAYER,
                "title": "Protected forest (test)",
                "kind": "protected_forest",
                "source": "drawn for the map's tests",
                "licence": "none: test data",
            },
            timeout=30,
        )
        assert made.status_code == 201, made.text
        conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
        try:
            for code, box in AREAS.items():
                await conn.execute(
                    """INSERT INTO constraint_feature (layer_id, code, name, geom)
                       SELECT id, $1, $2, ST_Multi(ST_MakeEnvelope($3, $4, $5, $6, 4326))
                       FROM constraint_layer WHERE name = $7""",
                    code,
                    f"Test forest {code}",
                    *box,
                    LAYER,
                )
        finally:
            await conn.close()
        yield Site(base, url)


async def opened(visit, base: str) -> None:
    await visit.page.goto(f"{base}/map")
    await wait_until(visit.page, READY, timeout=60_000)


async def settled(page) -> None:
    await wait_until(
        page, "() => window.kaltimMap.loaded() && window.kaltimMap.areTilesLoaded()", timeout=60_000
    )


async def test_map_draws_parcels_and_shows_distances_on_click(site):
    base = site.base
    # The page runs under the service's Content-Security-Policy, reaching nothing but the service.
    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)
        drawn = await page.evaluate(
            "window.kaltimMap.queryRenderedFeatures({layers: ['parcels-fill']}).length"
        )
        assert drawn > 10
        # click the middle of a parcel drawn near the centre of the screen
        x, y = await page.evaluate("""() => {
            const map = window.kaltimMap;
            const box = [[400, 250], [600, 450]];
            const f = map.queryRenderedFeatures(box, {layers: ['parcels-fill']})[0];
            const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]
                                                      : f.geometry.coordinates[0][0];
            const c = ring.slice(1).reduce((s, p) => [s[0] + p[0], s[1] + p[1]], [0, 0]);
            const point = map.project([c[0] / (ring.length - 1), c[1] / (ring.length - 1)]);
            return [point.x, point.y];
        }""")
        await page.mouse.click(x, y)
        port = page.locator("table.popup .popup-port")
        await port.wait_for(timeout=30_000)
        parcel_id = await page.locator("table.popup").get_attribute("data-parcel-id")
        shown = {
            kind: float(await page.locator(f"table.popup .popup-{kind}").get_attribute("data-distance-m"))
            for kind in ("port", "capital", "airport")
        }
        assert "km" in await port.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "map.png"))
    assert visit.refused == [] and visit.outside == [] and visit.errors == []
    answer = httpx.get(
        f"{base}/parcels/{parcel_id}/distances", params={"kinds": "port,capital,airport"}, timeout=30
    ).json()["nearest"]
    assert shown == {kind: answer[kind]["distance_m"] for kind in shown}
    assert Path(ARTIFACTS / "map.png").stat().st_size > 10_000


async def test_the_switcher_lists_every_layer_by_group_and_toggles_each(site):
    base = site.base
    catalogue = httpx.get(f"{base}/map/layers.json", timeout=30).json()["layers"]
    assert LAYER in [layer["id"] for layer in catalogue]
    assert {"zones", "parcels", "facilities", "regencies", "districts", "villages"} <= {
        layer["id"] for layer in catalogue
    }
    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)
        listed = await page.evaluate(
            "[...document.querySelectorAll('#layers input[type=checkbox]')].map((b) => "
            "[b.closest('section').dataset.group, b.dataset.layer, b.checked])"
        )
        assert sorted(listed) == sorted([layer["group"], layer["id"], True] for layer in catalogue)
        # each group once, in the panel's order
        groups = await page.evaluate(
            "[...document.querySelectorAll('#layers section')].map((s) => s.dataset.group)"
        )
        assert groups == ["core", "constraint", "admin"]

        for layer in catalogue:
            style_layers = await page.evaluate(
                "(id) => window.kaltimMap.getStyle().layers.filter((l) => l.source === id).map((l) => l.id)",
                layer["id"],
            )
            assert style_layers, layer["id"]  # every layer is drawn
            box = page.locator(f"#layers input[data-layer='{layer['id']}']")
            for checked, visibility in ((False, "none"), (True, "visible")):
                await box.set_checked(checked)
                shown = await page.evaluate(
                    "(ids) => ids.map((id) => "
                    "window.kaltimMap.getLayoutProperty(id, 'visibility') ?? 'visible')",
                    style_layers,
                )
                assert shown == [visibility] * len(style_layers), (layer["id"], checked)

        # Hidden, a layer draws nothing; shown again, it draws again.
        for name in ("parcels-fill", "regencies-fill", f"{LAYER}-fill"):
            source = name.rsplit("-", 1)[0]
            counts = []
            for checked in (True, False, True):
                await page.locator(f"#layers input[data-layer='{source}']").set_checked(checked)
                await settled(page)
                counts.append(
                    await page.evaluate(
                        "(id) => window.kaltimMap.queryRenderedFeatures({layers: [id]}).length", name
                    )
                )
            assert counts[0] > 0 and counts[1] == 0 and counts[2] == counts[0], (name, counts)

        # The zones' labels go with the zones.
        await page.locator("#layers input[data-layer='zones']").set_checked(False)
        assert not await page.locator("[data-label='zone:kik-kariangau']").is_visible()
        await page.locator("#layers input[data-layer='zones']").set_checked(True)
        assert await page.locator("[data-label='zone:kik-kariangau']").is_visible()
    assert visit.refused == [] and visit.outside == [] and visit.errors == []


async def test_a_constraint_layer_draws_its_areas_in_a_colour_of_its_own(site):
    base = site.base
    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)
        for code, (west, south, east, north) in AREAS.items():
            found = await page.evaluate(
                """([id, lngLat]) => {
                    const map = window.kaltimMap;
                    const p = map.project(lngLat);
                    return map.queryRenderedFeatures([p.x, p.y], {layers: [id + '-fill']})
                              .map((f) => [f.properties.layer, f.properties.code]);
                }""",
                [LAYER, [(west + east) / 2, (south + north) / 2]],
            )
            assert [LAYER, code] in found, (code, found)
        # outside its areas, nothing of it
        nothing = await page.evaluate(
            """(id) => { const map = window.kaltimMap; const p = map.project([116.70, -1.00]);
                         return map.queryRenderedFeatures([p.x, p.y], {layers: [id + '-fill']}).length; }""",
            LAYER,
        )
        assert nothing == 0
        colour = await page.evaluate(f"window.kaltimMap.getPaintProperty('{LAYER}-fill', 'fill-color')")
        legend = page.locator(f"#layers li.layer[data-layer='{LAYER}'] .swatch")
        assert await legend.get_attribute("data-colour") == colour
        assert await legend.is_visible()
        # no other layer of the page has that colour in the legend
        colours = await page.evaluate(
            "[...document.querySelectorAll('#layers .swatch')].map((s) => s.dataset.colour)"
        )
        assert colours.count(colour) == 1
        # A click on one of its areas (away from parcels) names it.
        west, south, east, north = AREAS["HU-1"]
        x, y = await page.evaluate(
            "(p) => { const q = window.kaltimMap.project(p); return [q.x, q.y]; }",
            [(west + east) / 2, (south + north) / 2],
        )
        await page.mouse.click(x, y)
        area = page.locator(f"table.areas-popup tr[data-layer='{LAYER}']")
        await area.wait_for(timeout=30_000)
        assert "Test forest HU-1" in await area.inner_text()
    assert visit.refused == [] and visit.outside == [] and visit.errors == []


async def test_the_legend_names_statuses_zones_facilities_and_boundaries(site):
    base = site.base
    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)

        async def entries(layer: str) -> dict[str, str]:
            return dict(
                await page.evaluate(
                    "(id) => [...document.querySelectorAll(`#layers li.layer[data-layer='${id}'] .swatch`)]"
                    ".map((s) => [s.closest('[data-legend]')?.dataset.legend ?? 'inline', s.dataset.colour])",
                    layer,
                )
            )

        parcels = await entries("parcels")
        assert set(parcels) == {"available", "reserved", "allocated", "occupied"}
        # the colours the parcels are drawn in
        paint = await page.evaluate("window.kaltimMap.getPaintProperty('parcels-fill', 'fill-color')")
        drawn = dict(zip(paint[2:-1:2], paint[3:-1:2], strict=True))
        assert parcels == drawn
        facilities = await entries("facilities")
        assert {"IKN (capital)", "port", "airport", "city"} <= set(facilities)
        assert len(set(facilities.values())) == len(facilities)
        assert "inline" in await entries("zones")
        regencies = await entries("regencies")
        assert {"land (Kalimantan Timur)", "sea, and outside the province", "regency boundary"} == set(
            regencies
        )
        assert set(await entries("districts")) == {"district boundary"}
        assert set(await entries("villages")) == {"village boundary"}
        for text in ("available", "IKN (capital)", "regency boundary", "district boundary"):
            assert await page.locator(f"#layers [data-legend='{text}']").is_visible()
    assert visit.errors == []


def overlapping(rects: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["label"], b["label"])
        for i, a in enumerate(rects)
        for b in rects[i + 1 :]
        if a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    ]


LABELS_IN_VIEW = """() => [...document.querySelectorAll('.map-label')].filter((e) => {
    const r = e.getBoundingClientRect(), style = getComputedStyle(e);
    return !e.hidden && style.visibility !== 'hidden' && r.right > 0 && r.bottom > 0 &&
           r.left < innerWidth && r.top < innerHeight;
}).map((e) => {
    const r = e.getBoundingClientRect();
    return {label: e.dataset.label, text: e.textContent, x: r.x, y: r.y, w: r.width, h: r.height};
})"""


async def test_labels_of_zones_ikn_and_the_airport_show_without_overlapping(site):
    base = site.base
    zones = httpx.get(f"{base}/zones", timeout=30).json()["features"]
    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)
        for zone in zones:  # every zone has its label
            assert await page.locator(f"[data-label='zone:{zone['properties']['code']}']").count() == 1
        shown = await page.evaluate(LABELS_IN_VIEW)
        in_view = {label["label"]: label["text"] for label in shown}
        # the first view: the two zones on Balikpapan Bay, IKN, the airport and the ports
        for label in (
            "zone:kik-kariangau",
            "zone:kib-buluminung",
            "facility:ikn",
            "facility:sepinggan-airport",
            "facility:semayang-port",
        ):
            assert label in in_view, (label, in_view)
            assert await page.locator(f"[data-label='{label}']").is_visible()
        assert "IKN" in in_view["facility:ikn"] and "Kariangau" in in_view["zone:kik-kariangau"]
        assert "Sepinggan" in in_view["facility:sepinggan-airport"]
        assert overlapping(shown) == []
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "map-labels.png"))

        # Zoomed out to the whole province labels give way to each other instead of overlapping;
        # IKN's and the zones' come first.
        await page.evaluate("window.kaltimMap.jumpTo({center: [116.9, 0.3], zoom: 6.5})")
        await settled(page)
        await page.wait_for_timeout(200)
        shown = await page.evaluate(LABELS_IN_VIEW)
        assert overlapping(shown) == []
        assert {"facility:ikn", "zone:kek-mbtk"} <= {label["label"] for label in shown}

        # The zone buttons lead to each zone, its label in view.
        await page.locator("#zones button[data-zone='kek-mbtk']").click()
        await wait_until(
            page, "() => !window.kaltimMap.isMoving() && window.kaltimMap.getZoom() > 12", timeout=30_000
        )
        await settled(page)
        shown = {label["label"] for label in await page.evaluate(LABELS_IN_VIEW)}
        assert "zone:kek-mbtk" in shown and "facility:maloy-port" in shown
    assert visit.refused == [] and visit.outside == [] and visit.errors == []


async def test_a_facility_popup_shows_its_distances_as_the_api_answers_them(site):
    base = site.base
    facilities = {
        f["properties"]["code"]: f for f in httpx.get(f"{base}/facilities", timeout=30).json()["features"]
    }

    def nearest_other(code: str, kind: str) -> dict | None:
        lon, lat = facilities[code]["geometry"]["coordinates"]
        found = httpx.get(
            f"{base}/facilities/nearest",
            params={"lon": lon, "lat": lat, "kind": kind, "limit": 2},
            timeout=30,
        ).json()["features"]
        return next((f["properties"] for f in found if f["properties"]["code"] != code), None)

    async with offline_page(base, 1000, 700) as visit:
        page = visit.page
        await opened(visit, base)
        for code in ("sepinggan-airport", "semayang-port", "ikn"):
            lonlat = facilities[code]["geometry"]["coordinates"]
            x, y = await page.evaluate(
                "(p) => { const q = window.kaltimMap.project(p); return [q.x, q.y]; }", lonlat
            )
            await page.mouse.click(x, y)
            popup = page.locator(f"table.facility-popup[data-code='{code}']")
            await popup.wait_for(timeout=30_000)
            text = await popup.inner_text()
            assert facilities[code]["properties"]["name"] in text
            for kind in ("port", "capital", "airport"):
                row = popup.locator(f".popup-{kind}")
                expected = nearest_other(code, kind)
                if expected is None:  # IKN is the only capital
                    assert await row.get_attribute("data-self") == "" and code == "ikn" and kind == "capital"
                    continue
                assert await row.get_attribute("data-code") == expected["code"], (code, kind)
                assert float(await row.get_attribute("data-distance-m")) == expected["distance_m"]
                assert f"{expected['distance_m'] / 1000:.2f} km" in await row.inner_text()
            kind = facilities[code]["properties"]["kind"]
            assert {"airport": "airport", "port": "port", "capital": "IKN (capital)"}[kind] in text
            if code == "sepinggan-airport":
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "map-facility.png"))
            await page.locator(".maplibregl-popup-close-button").click()
        # a facility's label opens its popup too
        await page.locator("[data-label='facility:ikn']").click()
        await page.locator("table.facility-popup[data-code='ikn']").wait_for(timeout=30_000)
    assert visit.refused == [] and visit.outside == [] and visit.errors == []


async def test_a_raster_basemap_draws_over_the_offline_land(site):
    with serve(site.database, map_basemap_url="https://tiles.example.org/{z}/{x}/{y}.png") as base:
        async with offline_page(base, 800, 600) as visit:
            await opened(visit, base)
            order = await visit.page.evaluate("window.kaltimMap.getStyle().layers.map((l) => l.id)")
            land = await visit.page.evaluate(
                "window.kaltimMap.queryRenderedFeatures({layers: ['regencies-fill']}).length"
            )
    # It asks for its tiles (cut off here, as offline) and lies above the land, below the rest.
    assert visit.outside and all(u.startswith("https://tiles.example.org/") for u in visit.outside)
    assert order.index("regencies-fill") < order.index("basemap") < order.index("parcels-fill")
    assert land > 0 and visit.refused == [] and visit.errors == []


async def test_a_label_reads_the_features_own_label_attribute(site):
    base = site.base
    original = httpx.get(f"{base}/facilities/penajam", timeout=30).json()["properties"]["attributes"]
    changed = httpx.patch(
        f"{base}/facilities/penajam",
        headers=AUTH,
        json={"properties": {"attributes": {**original, "label": "Penajam (PPU)"}}},
        timeout=30,
    )
    assert changed.status_code == 200, changed.text
    try:
        async with offline_page(base, 1000, 700) as visit:
            await opened(visit, base)
            label = visit.page.locator("[data-label='facility:penajam']")
            assert await label.text_content() == "Penajam (PPU)"
            assert (await label.get_attribute("title")).startswith("Penajam (PPU regency seat)")
    finally:
        restored = httpx.patch(
            f"{base}/facilities/penajam",
            headers=AUTH,
            json={"properties": {"attributes": original}},
            timeout=30,
        )
        assert restored.status_code == 200, restored.text
    assert visit.errors == []
