"""Vector tiles: decoded with mapbox-vector-tile and checked against shapely on the same parcels."""

import math

import mapbox_vector_tile
from shapely.geometry import box, shape

from app.queries.demo import tile_zones


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def bounds_of(z: int, x: int, y: int):
    """WebMercatorQuad tile bounds in lon/lat, from the standard formula."""
    n = 2**z
    lat = lambda row: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))  # noqa: E731
    return box(x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


async def test_parcel_tile_holds_the_parcels_in_it(client, session, seeded):
    await tile_zones(session, 100)
    z = 15
    x, y = tile_of(116.795, -1.118, z)
    response = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt")
    assert (
        response.status_code == 200
        and response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    )
    decoded = mapbox_vector_tile.decode(response.content)
    got = sorted(f["properties"]["id"] for f in decoded["parcels"]["features"])
    everything = (await client.get("/parcels?limit=10000")).json()["features"]
    tile = bounds_of(z, x, y)
    expected = sorted(f["id"] for f in everything if shape(f["geometry"]).intersects(tile))
    assert got == expected and len(expected) > 5
    sample = decoded["parcels"]["features"][0]["properties"]
    assert {"id", "code", "land_status", "area_ha"} <= set(sample)

    etag = response.headers["etag"]
    again = await client.get(f"/tiles/parcels/{z}/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and response.headers["cache-control"].startswith("public")


async def test_zone_and_facility_tiles(client, seeded):
    x, y = tile_of(117.98, 0.85, 10)
    zones = mapbox_vector_tile.decode((await client.get(f"/tiles/zones/10/{x}/{y}.mvt")).content)
    assert [f["properties"]["code"] for f in zones["zones"]["features"]] == ["kek-mbtk"]
    facilities = mapbox_vector_tile.decode((await client.get(f"/tiles/facilities/10/{x}/{y}.mvt")).content)
    assert "maloy-port" in {f["properties"]["code"] for f in facilities["facilities"]["features"]}


async def test_empty_and_invalid_tiles(client, seeded):
    x, y = tile_of(100.0, 10.0, 12)  # far from Kaltim
    assert (await client.get(f"/tiles/parcels/12/{x}/{y}.mvt")).status_code == 204
    assert (await client.get("/tiles/parcels/5/26/15.mvt")).status_code == 204  # below the minimum zoom
    for path, status in (
        ("/tiles/parcels/3/9/0.mvt", 404),
        ("/tiles/rivers/3/1/1.mvt", 404),
        ("/tiles/parcels/23/0/0.mvt", 422),
        ("/tiles/parcels/3/-1/0.mvt", 422),
    ):
        response = await client.get(path)
        assert (
            response.status_code == status and response.headers["content-type"] == "application/problem+json"
        )


async def test_tilejson(client, seeded):
    body = (await client.get("/tiles/parcels.json")).json()
    assert body["tilejson"] == "3.0.0" and body["minzoom"] == 10
    assert body["tiles"] == ["http://testserver/tiles/parcels/{z}/{x}/{y}.mvt"]
    assert body["vector_layers"][0]["id"] == "parcels" and "land_status" in body["vector_layers"][0]["fields"]
    assert (await client.get("/tiles/rivers.json")).status_code == 404
