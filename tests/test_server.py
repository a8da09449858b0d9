"""The contract outside checks use, end to end over real HTTP: migrate, seed, serve, ask.

On a database of its own: `alembic upgrade head`, `python -m app.cli seed`,
`python -m app.cli demo-parcels`, then `uvicorn app.main:app` on a free port.
"""

import httpx
import pytest
from shapely.geometry import shape

from tests.conftest import SERVER_KEY, free_port, run_cli, serve
from tests.geo import ORIGIN, area_ha, close, distance_to_polygon_m, parcel, rectangle


@pytest.fixture
async def server(fresh_database):
    url = await fresh_database("kaltim_server")
    run_cli("alembic", "upgrade", "head", database_url=url)
    assert "zones: 3 inserted" in run_cli("app.cli", "seed", database_url=url).stdout
    assert "zones: 3 unchanged" in run_cli("app.cli", "seed", database_url=url).stdout
    assert "added" in run_cli("app.cli", "demo-parcels", "--cell-m", "400", database_url=url).stdout
    with serve(url) as base:
        yield base


async def test_served_over_http(server):
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "ok" and health["postgis"].startswith("3.")
        assert (await http.get("/docs")).status_code == 200
        assert "/parcels/{parcel_id}/distances" in (await http.get("/openapi.json")).json()["paths"]

        # Parcels in a zone, against shapely's own answer over every parcel the API lists.
        zone = (await http.get("/zones/kik-kariangau")).json()
        everything = (await http.get("/parcels?limit=10000")).json()
        zone_shape = shape(zone["geometry"])
        expected = sorted(f["id"] for f in everything["features"] if zone_shape.covers(shape(f["geometry"])))
        inside = (await http.get("/zones/kik-kariangau/parcels?limit=10000")).json()
        assert [f["id"] for f in inside["features"]] == expected and expected
        assert inside["numberMatched"] == len(expected)

        # Write with the key, then ask how far the new parcel is from the nearest port and IKN.
        ring = rectangle(*ORIGIN, 250, 250)
        refused = await http.post("/parcels", json=parcel(ring, "SRV-1"))
        assert refused.status_code == 401
        created = await http.post(
            "/parcels", json=parcel(ring, "SRV-1"), headers={"Authorization": f"Bearer {SERVER_KEY}"}
        )
        assert created.status_code == 201, created.text
        assert close(created.json()["properties"]["area_ha"], area_ha(created.json()["geometry"]))
        distances = (await http.get(f"{created.headers['location']}/distances")).json()
        ikn = (await http.get("/facilities/ikn")).json()
        expected_ikn = distance_to_polygon_m(tuple(ikn["geometry"]["coordinates"]), ring, steps=50)
        assert distances["nearest"]["capital"]["code"] == "ikn"
        assert close(distances["nearest"]["capital"]["distance_m"], expected_ikn)


def test_wait_db_answers_once_postgis_is_there(migrated):
    assert "database ready (PostGIS 3." in run_cli("app.cli", "wait-db", "--timeout", "5").stdout


def test_wait_db_gives_up_on_a_closed_port():
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    result = run_cli("app.cli", "wait-db", "--timeout", "1", database_url=closed, check=False)
    assert result.returncode != 0
    assert "did not answer within 1 s" in result.stderr
