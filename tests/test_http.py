"""What browsers and caching front-ends rely on: CORS, compression, ETag and Last-Modified."""

from datetime import datetime
from email.utils import parsedate_to_datetime

from tests.conftest import AUTH
from tests.geo import ORIGIN, parcel, rectangle
from tests.test_tiles import tile_of


async def test_cors(client):
    simple = await client.get("/zones", headers={"Origin": "https://maps.example.org"})
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "ETag" in simple.headers["access-control-expose-headers"]
    preflight = await client.options(
        "/parcels",
        headers={
            "Origin": "https://maps.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


async def test_compression(client, seeded):
    plain = await client.get("/facilities?limit=100", headers={"Accept-Encoding": "identity"})
    packed = await client.get("/facilities?limit=100", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert packed.json() == plain.json()  # httpx decoded it
    assert int(packed.headers["content-length"]) < len(plain.content) / 3


async def test_etag_and_last_modified(client):
    created = (
        await client.post("/parcels", json=parcel(rectangle(*ORIGIN, 100, 100), "ET-1"), headers=AUTH)
    ).json()
    first = await client.get(f"/parcels/{created['id']}")
    tag = first.headers["etag"]
    assert tag.startswith('"')  # strong: a single resource, the tag If-Match names
    modified = parsedate_to_datetime(first.headers["last-modified"])
    updated = datetime.fromisoformat(created["properties"]["updated_at"])
    assert abs((modified - updated).total_seconds()) < 1
    assert (await client.get(f"/parcels/{created['id']}", headers={"If-None-Match": tag})).status_code == 304
    await client.patch(f"/parcels/{created['id']}", json={"properties": {"land_use": "gudang"}}, headers=AUTH)
    changed = await client.get(f"/parcels/{created['id']}", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    listing = await client.get("/parcels")
    assert (
        await client.get("/parcels", headers={"If-None-Match": listing.headers["etag"]})
    ).status_code == 304


async def test_head_answers_as_get_would_without_a_body(client, seeded):
    created = (
        await client.post("/parcels", json=parcel(rectangle(*ORIGIN, 100, 100), "HD-1"), headers=AUTH)
    ).json()
    x, y = tile_of(*ORIGIN, 14)
    paths = [
        "/",
        "/zones",
        f"/parcels/{created['id']}",
        "/ogc/collections/parcels/items?limit=5",
        f"/tiles/parcels/14/{x}/{y}.mvt",
        "/parcels/999999999",  # a 404: the same problem's headers
        "/parcels?limit=0",  # a 422
    ]
    for path in paths:
        for encoding in ("identity", "gzip"):
            get = await client.get(path, headers={"Accept-Encoding": encoding})
            head = await client.head(path, headers={"Accept-Encoding": encoding})
            assert head.status_code == get.status_code and head.content == b"", path
            for name in ("content-type", "content-length", "content-encoding", "etag", "last-modified"):
                assert head.headers.get(name) == get.headers.get(name), (path, encoding, name)
