"""The HTML pages for browsers: the landing page, the API documentation, the map and the OGC API
pages. None may load anything from another host; the items pages carry their features for a map
and links to the previous and next page."""

import json
import re
from html import unescape
from html.parser import HTMLParser
from importlib.resources import files
from urllib.parse import urljoin, urlsplit

import pytest

from tests.conftest import AUTH, app_client, make_settings
from tests.geo import ORIGIN, move, parcel, rectangle

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HOST = "testserver"
# Where a value in an attribute (or a stylesheet's url()) names something to fetch.
RESOURCE_ATTRIBUTES = ("src", "href", "srcset", "data", "poster", "action", "formaction", "spec-url")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


class References(HTMLParser):
    """What a page would make a browser fetch (`loads`: scripts, stylesheets, icons, images,
    frames, any attribute naming a URL) and where its links lead (`links`: `<a href>`)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self.links: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if tag == "a" and name == "href":
                self.links.append(value)
            elif name in RESOURCE_ATTRIBUTES or re.match(r"\s*(https?:)?//", value):
                self.loads.append((f"{tag} {name}", value))
            if name == "style":
                self.loads += [("style attribute", a or b) for a, b in CSS_URL.findall(value)]

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.loads += [("style", a or b) for a, b in CSS_URL.findall(data)]


def references(text: str) -> References:
    parser = References()
    parser.feed(text)
    return parser


def is_local(url: str, host: str = HOST) -> bool:
    parts = urlsplit(url.strip())
    if parts.scheme == "data":
        return True
    if parts.scheme in ("http", "https") or url.strip().startswith("//"):
        return parts.netloc == host
    return parts.scheme == ""


def outside(text: str) -> list[tuple[str, str]]:
    return [(where, url) for where, url in references(text).loads if not is_local(url)]


def test_the_check_finds_what_loads_from_another_host():
    page = (
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">'
        '<script src="//unpkg.com/x.js"></script><img src="/static/a.png"><style>@font-face{src:'
        "url(https://fonts.gstatic.com/r.woff2)}</style><div style=\"background:url('http://x.org/b.png')\">"
        '<a href="https://www.ogc.org/standards/ogcapi-features/">OGC</a><redoc spec-url="https://a.b/o.json">'
        '<a href="http://testserver/ogc">here</a><link rel="icon" href="http://testserver/static/favicon.svg">'
    )
    assert [url for _, url in outside(page)] == [
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css",
        "//unpkg.com/x.js",
        "https://fonts.gstatic.com/r.woff2",
        "http://x.org/b.png",
        "https://a.b/o.json",
    ]


def kind(url: str) -> str:
    """A page's kind: its path with feature ids collapsed, and the names of its query parameters."""
    parts = urlsplit(url)
    path = re.sub(r"/items/[^/]+$", "/items/{id}", parts.path)
    names = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair} - {"f"})
    return path + (f"?{','.join(names)}" if names else "")


async def add_parcels(client, count: int = 3, **props) -> list[int]:
    ids = []
    for i in range(count):
        ring = rectangle(*move(*ORIGIN, 90, 300 * i), 200, 200)
        made = await client.post("/parcels", json=parcel(ring, f"PG-{i}", **props), headers=AUTH)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


async def test_no_page_loads_anything_from_another_host(client, seeded):
    """Every HTML page reachable from the landing page, one of each kind, as a browser asks."""
    await add_parcels(client)
    queue, seen, pages = ["http://testserver/"], set(), {}
    while queue:
        url = queue.pop(0)
        if kind(url) in seen:
            continue
        seen.add(kind(url))
        answer = await client.get(url, headers=BROWSER)
        assert answer.status_code == 200, (url, answer.text)
        if not answer.headers["content-type"].startswith("text/html"):
            continue
        pages[kind(url)] = answer.text
        assert outside(answer.text) == [], url
        found = references(answer.text)
        for _, load in found.loads:  # what the page loads is there
            fetched = await client.get(urljoin(url, load))
            assert fetched.status_code == 200 and fetched.content, (url, load)
        queue += [urljoin(url, link) for link in found.links if is_local(urljoin(url, link))]
    expected = {"/", "/map", "/docs", "/redoc", "/ogc", "/ogc/conformance", "/ogc/collections"}
    for collection in ("zones", "parcels", "facilities", "projects"):
        expected |= {f"/ogc/collections/{collection}", f"/ogc/collections/{collection}/items"}
    for collection in ("zones", "parcels", "facilities"):
        expected |= {f"/ogc/collections/{collection}/items/{{id}}"}
    expected |= {"/ogc/collections/facilities/items?after"}  # seeded facilities fill a page and more
    assert expected <= set(pages), expected - set(pages)


async def test_the_landing_page_for_browsers_and_json_for_everyone_else(client):
    answer = await client.get("/")
    assert answer.headers["content-type"] == "application/json" and "Accept" in answer.headers["vary"]
    body = answer.json()
    assert body["title"] == "Kaltim Land API" and set(body) == {"title", "description", "links"}
    assert [link["rel"] for link in body["links"]] == [
        "service-desc",
        "service-doc",
        "zones",
        "parcels",
        "facilities",
    ]
    for headers, params in (({"Accept": "application/json"}, {}), (BROWSER, {"f": "json"}), ({}, {})):
        again = await client.get("/", headers=headers, params=params)
        assert again.content == answer.content  # JSON clients get the same bytes, whatever they send
    for headers, params in ((BROWSER, {}), ({}, {"f": "html"})):
        page = await client.get("/", headers=headers, params=params)
        assert page.headers["content-type"].startswith("text/html") and "Accept" in page.headers["vary"]
        assert {"/map", "/docs", "/redoc", "/ogc?f=html"} <= set(references(page.text).links)
        assert "http://testserver/ogc" in page.text  # the address GIS clients connect to
    bad = await client.get("/", params={"f": "xml"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "path, bundle, package",
    [
        ("/docs", "swagger-ui-bundle.js", "swagger-ui-dist"),
        ("/docs", "swagger-ui.css", "swagger-ui-dist"),
        ("/redoc", "redoc.standalone.js", "redoc"),
        ("/map", "maplibre-gl.js", "maplibre-gl"),
        ("/map", "maplibre-gl.css", "maplibre-gl"),
    ],
)
async def test_the_pages_run_on_the_vendored_bundles(client, path, bundle, package):
    page = await client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    url = f"/static/vendor/{package}/{bundle}"
    assert url in {value for _, value in references(page.text).loads}
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # every script a file of the service: the policy runs no other
    served = await client.get(url)
    folder = files("app").joinpath("static", "vendor", package)
    assert served.status_code == 200 and served.content == folder.joinpath(bundle).read_bytes()
    # Each vendored package keeps its licence and a note of where it comes from, whose version is
    # the one the bundle holds.
    note = folder.joinpath("VERSION").read_text()
    version = re.search(rf"{package}@(\d+\.\d+\.\d+)", note).group(1)
    assert "npm" in note and any(f.name.startswith("LICENSE") for f in folder.iterdir())
    if bundle.endswith(".js"):
        assert f'"{version}"' in served.text
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


async def test_the_default_documentation_routes_are_gone(client):
    answer = await client.get("/docs/oauth2-redirect")  # no OAuth2 here: keys are Bearer tokens
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert (await client.get("/favicon.ico")).headers["content-type"].startswith("image/svg+xml")


def island(text: str) -> dict:
    """The features a page carries for its map."""
    found = re.search(r'<script id="features" type="application/json">(.*?)</script>', text, re.S)
    assert found, "the page has no map"
    return json.loads(found.group(1))


def pager_links(text: str) -> dict[str, str]:
    return {rel: unescape(href) for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', text)}


async def test_an_items_page_carries_its_features_for_the_map_and_pages_on(client, seeded):
    first = await client.get("/ogc/collections/zones/items", params={"f": "html", "limit": 1})
    listed = (await client.get("/ogc/collections/zones/items", params={"limit": 1})).json()
    assert [f["id"] for f in island(first.text)["features"]] == [f["id"] for f in listed["features"]]
    assert 'id="map"' in first.text and "/static/features.js" in first.text
    pager = pager_links(first.text)
    assert set(pager) == {"next"}  # the first page has no previous one
    second = await client.get(pager["next"])
    second_ids = [f["id"] for f in island(second.text)["features"]]
    assert second_ids and second_ids != [listed["features"][0]["id"]]
    back = pager_links(second.text)
    assert set(back) == {"prev", "next"}
    again = await client.get(back["prev"])
    assert island(again.text)["features"] == island(first.text)["features"]


async def test_a_page_draws_in_lon_lat_whatever_crs_was_asked(client, seeded):
    utm = "http://www.opengis.net/def/crs/EPSG/0/32750"
    for path in ("/ogc/collections/facilities/items", "/ogc/collections/facilities/items/ikn"):
        page = await client.get(path, params={"f": "html", "crs": utm})
        plain = (await client.get(path, params={"f": "html"})).text
        assert island(page.text) == island(plain)
        for feature in island(page.text)["features"]:
            lon, lat = feature["geometry"]["coordinates"][:2]
            assert 113 < lon < 120 and -3 < lat < 3
    # the JSON answer keeps the CRS asked for
    ikn = await client.get("/ogc/collections/facilities/items/ikn", params={"crs": utm})
    assert ikn.json()["geometry"]["coordinates"][0] > 1000


async def test_a_feature_page_draws_that_feature(client, seeded):
    [parcel_id] = await add_parcels(client, 1)
    page = await client.get(f"/ogc/collections/parcels/items/{parcel_id}", headers=BROWSER)
    feature = (await client.get(f"/ogc/collections/parcels/items/{parcel_id}")).json()
    [drawn] = island(page.text)["features"]
    assert drawn["id"] == parcel_id and drawn["geometry"] == feature["geometry"]


async def test_text_in_a_feature_cannot_break_out_of_the_page(client, seeded):
    sneaky = "</script><script>alert(1)</script><!--"
    [parcel_id] = await add_parcels(client, 1, land_use=sneaky)
    for path in (f"/ogc/collections/parcels/items/{parcel_id}", "/ogc/collections/parcels/items"):
        page = await client.get(path, params={"f": "html"})
        assert "<script>alert" not in page.text and "<!--" not in page.text
        drawn = island(page.text)["features"]
        assert sneaky in [f["properties"]["land_use"] for f in drawn]


async def test_only_the_map_may_name_the_basemap_host():
    settings = make_settings().model_copy(
        update={"map_basemap_url": "https://tiles.example.org/{z}/{x}/{y}.png"}
    )
    async with app_client(None, settings) as client:
        policies = {
            path: (await client.get(path, headers=BROWSER)).headers["content-security-policy"]
            for path in ("/map", "/docs", "/redoc", "/")
        }
    assert "img-src 'self' data: blob: https://tiles.example.org;" in policies["/map"]
    assert "connect-src 'self' https://tiles.example.org;" in policies["/map"]
    assert not any("example.org" in policies[path] for path in ("/docs", "/redoc", "/"))
