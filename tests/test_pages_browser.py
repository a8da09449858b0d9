"""The API documentation and the OGC API pages in a real browser that reaches nothing but the
service: Swagger UI draws every operation, ReDoc its menu, an items page its features."""

from pathlib import Path

import httpx
import pytest

from tests.browser import needs_chromium, offline_page, wait_until
from tests.conftest import prepared_database, serve

pytestmark = needs_chromium
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# The page's map has loaded and drawn features.
DRAWN = (
    "() => window.featureMap && window.featureMap.loaded() && "
    "window.featureMap.queryRenderedFeatures().length > 0"
)


@pytest.fixture(scope="module")
async def site(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_pages_browser", cell_m=400)
    with serve(url) as base:
        yield base


def operations(base: str) -> int:
    paths = httpx.get(f"{base}/openapi.json", timeout=30).json()["paths"]
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(1 for item in paths.values() for method in item if method in methods)


async def test_swagger_ui_draws_every_operation_offline(site, tmp_path: Path):
    expected = operations(site)
    async with offline_page(site) as visit:
        await visit.page.goto(f"{site}/docs")
        await wait_until(
            visit.page, f"document.querySelectorAll('.opblock').length >= {expected}", timeout=60_000
        )
        drawn = await visit.page.locator(".opblock").count()
        summary = await visit.page.locator(".opblock-summary-path").first.inner_text()
        await visit.page.screenshot(path=str(tmp_path / "docs.png"))
    assert drawn == expected and expected > 40
    assert summary.startswith("/")
    assert visit.outside == [] and visit.refused == [] and visit.errors == []
    assert (tmp_path / "docs.png").stat().st_size > 10_000


async def test_redoc_draws_its_operation_menu_offline(site, tmp_path: Path):
    expected = operations(site)
    async with offline_page(site) as visit:
        await visit.page.goto(f"{site}/redoc")
        menu = visit.page.locator("li[data-item-id*='/operation/']")
        await menu.first.wait_for(state="attached", timeout=60_000)
        listed = await menu.count()
        # the menu opens a tag on a click, showing its operations
        await visit.page.locator("li[data-item-id='tag/zones']").click()
        await visit.page.locator("li[data-item-id^='tag/zones/operation/']").first.wait_for(timeout=30_000)
        title = await visit.page.locator("h1").first.inner_text()
        await visit.page.screenshot(path=str(tmp_path / "redoc.png"))
    assert listed == expected and title.startswith("Kaltim Land API")
    # Only ReDoc's attribution logo (on its CDN) is refused, and ReDoc leaves it out.
    assert visit.outside == [] and visit.errors == []
    assert all(REDOC_LOGO in message for message in visit.refused), visit.refused
    assert (tmp_path / "redoc.png").stat().st_size > 10_000


@pytest.mark.parametrize("collection", ["zones", "parcels", "facilities"])
async def test_an_items_page_draws_its_features_on_the_map_offline(site, tmp_path: Path, collection):
    listed = httpx.get(f"{site}/ogc/collections/{collection}/items", params={"limit": 20}, timeout=30).json()
    ids = sorted(str(feature["id"]) for feature in listed["features"])
    assert ids
    async with offline_page(site, 1000, 800) as visit:
        await visit.page.goto(f"{site}/ogc/collections/{collection}/items?f=html&limit=20")
        await wait_until(visit.page, DRAWN, timeout=60_000)
        drawn = await visit.page.evaluate(
            "[...new Set(window.featureMap.queryRenderedFeatures().map((f) => String(f.properties.fid)))]"
        )
        await visit.page.locator("#map").screenshot(path=str(tmp_path / f"{collection}.png"))
    assert sorted(drawn) == ids
    assert visit.outside == [] and visit.refused == [] and visit.errors == []
    assert (tmp_path / f"{collection}.png").stat().st_size > 1_000


async def test_a_click_on_a_parcel_leads_to_its_page_and_its_map(site, tmp_path: Path):
    async with offline_page(site, 1000, 800) as visit:
        page = visit.page
        await page.goto(f"{site}/ogc/collections/parcels/items?f=html&limit=5")
        await wait_until(page, DRAWN, timeout=60_000)
        # a point of the canvas well inside a drawn parcel: the same one 5 px around it
        clicked, x, y = await page.evaluate("""() => {
            const map = window.featureMap;
            const canvas = map.getCanvas().getBoundingClientRect();
            const layers = ['features-fill'];
            const at = (x, y) => map.queryRenderedFeatures([x, y], {layers})[0]?.properties.fid;
            for (let y = 10; y < canvas.height; y += 5) for (let x = 10; x < canvas.width; x += 5) {
                const fid = at(x, y);
                const around = [[-5, 0], [5, 0], [0, -5], [0, 5]];
                if (fid !== undefined && around.every(([dx, dy]) => at(x + dx, y + dy) === fid))
                    return [fid, canvas.left + x, canvas.top + y];
            }
        }""")
        await page.mouse.click(x, y)
        link = page.locator(".maplibregl-popup a")
        await link.wait_for(timeout=30_000)
        await link.click()
        await page.wait_for_url(f"**/ogc/collections/parcels/items/{clicked}?f=html", timeout=30_000)
        await wait_until(page, DRAWN, timeout=60_000)
        drawn = await page.evaluate(
            "[...new Set(window.featureMap.queryRenderedFeatures().map((f) => f.properties.fid))]"
        )
        heading = await page.locator("h1").inner_text()
        await page.screenshot(path=str(tmp_path / "parcel.png"))
    assert drawn == [clicked] and heading == f"Land parcels: {clicked}"
    assert visit.outside == [] and visit.refused == [] and visit.errors == []
