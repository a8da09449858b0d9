"""The map page in a real browser (tests/browser.py): headless Chromium, reaching only the service."""

from pathlib import Path

import httpx

from tests.browser import needs_chromium, offline_page
from tests.conftest import ROOT, prepared_database, serve

ARTIFACTS = ROOT / "test-artifacts"

pytestmark = needs_chromium


async def test_map_draws_parcels_and_shows_distances_on_click(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_map", cell_m=250)
    with serve(url) as base:
        # The page runs under the service's Content-Security-Policy, reaching nothing but the service.
        async with offline_page(base, 1000, 700) as visit:
            page = visit.page
            await page.goto(f"{base}/map")
            await page.wait_for_function(
                "() => window.kaltimMap && window.kaltimMap.loaded() && "
                "window.kaltimMap.queryRenderedFeatures({layers: ['parcels-fill']}).length > 0",
                timeout=60_000,
            )
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
            port = page.locator(".popup-port")
            await port.wait_for(timeout=30_000)
            parcel_id = await page.locator("table.popup").get_attribute("data-parcel-id")
            shown_port = float(await port.get_attribute("data-distance-m"))
            shown_ikn = float(await page.locator(".popup-capital").get_attribute("data-distance-m"))
            assert "km" in await port.inner_text()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "map.png"))
        assert visit.refused == [] and visit.outside == [] and visit.errors == []
        answer = httpx.get(f"{base}/parcels/{parcel_id}/distances", timeout=30).json()["nearest"]
        assert shown_port == answer["port"]["distance_m"] and shown_ikn == answer["capital"]["distance_m"]
        assert Path(ARTIFACTS / "map.png").stat().st_size > 10_000
