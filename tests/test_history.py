"""History: every change recorded by the database, whoever makes it; rows as they stood at a time."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from app.config import Settings
from tests.conftest import API_KEY, AUTH, app_client, run_cli, scalar
from tests.geo import ORIGIN, move, parcel, polygon, rectangle, zone

SQUARE = rectangle(*ORIGIN, 100, 100)
MOVED = rectangle(*move(*ORIGIN, 90, 1000), 200, 100)
OTHER = rectangle(*move(*ORIGIN, 0, 1000), 100, 100)


async def execute(session, sql: str, **params) -> None:
    await session.execute(text(sql), params)


async def now(session) -> str:
    return (await scalar(session, "SELECT clock_timestamp()")).isoformat()


def same_shape(geometry: dict, ring: list) -> bool:
    """The same shape, to the 8 decimals (about 1 mm) that GeoJSON output keeps."""
    return shape(geometry).hausdorff_distance(shape(polygon(ring))) < 1e-7


async def test_api_writes_are_recorded_with_their_key(client, keyed):
    editor = keyed["editor"]
    made = await client.post("/parcels", json=parcel(SQUARE, "HIS-1", holder="Siti"), headers=editor)
    pid = made.json()["id"]
    patch = {"geometry": polygon(MOVED), "properties": {"land_status": "reserved"}}
    assert (await client.patch(f"/parcels/{pid}", json=patch, headers=editor)).status_code == 200
    assert (await client.delete(f"/parcels/{pid}", headers=editor)).status_code == 204
    assert (await client.get(f"/parcels/{pid}")).status_code == 404

    # Deleted, it keeps its history: newest first.
    answer = await client.get(f"/parcels/{pid}/history", headers=keyed["reader"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["numberMatched"] == 3 and body["numberReturned"] == 3
    deleted, updated, inserted = body["changes"]
    assert [c["operation"] for c in body["changes"]] == ["delete", "update", "insert"]
    assert {c["actor"] for c in body["changes"]} == {"editor"}
    assert {(c["table"], c["key"]) for c in body["changes"]} == {("parcel", str(pid))}
    assert deleted["changed_at"] > updated["changed_at"] > inserted["changed_at"]
    assert inserted["before"] is None and deleted["after"] is None
    assert inserted["after"]["land_status"] == "available" and inserted["after"]["holder"] == "Siti"
    assert same_shape(inserted["after"]["geom"], SQUARE)
    assert updated["before"] == inserted["after"]
    assert updated["after"]["land_status"] == "reserved" and same_shape(updated["after"]["geom"], MOVED)
    assert deleted["before"] == updated["after"]

    # Paged like other lists; the holder hidden from anonymous readers.
    first = (await client.get(f"/parcels/{pid}/history?limit=1")).json()
    assert first["numberReturned"] == 1 and first["numberMatched"] == 3
    assert any(link["rel"] == "next" for link in first["links"])
    anonymous = (await client.get(f"/parcels/{pid}/history")).json()["changes"]
    assert anonymous[0]["before"]["holder"] is None and anonymous[2]["after"]["holder"] is None

    missing = await client.get("/parcels/987654321/history")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_direct_sql_is_recorded_with_the_database_user(client, session):
    user = await scalar(session, "SELECT current_user")
    pid = await scalar(
        session,
        "INSERT INTO parcel (code, land_status, geom) "
        "VALUES ('SQL-1', 'available', ST_Multi(ST_GeomFromGeoJSON(:g))) RETURNING id",
        g=json.dumps(polygon(SQUARE)),
    )
    await execute(session, "UPDATE parcel SET land_use = 'warehouse' WHERE id = :id", id=pid)
    await scalar(session, "SELECT set_config('kaltim.actor', 'nightly-import', true)")
    await execute(session, "UPDATE parcel SET land_use = 'depot' WHERE id = :id", id=pid)
    changes = (await client.get(f"/parcels/{pid}/history")).json()["changes"]
    assert [(c["operation"], c["actor"]) for c in changes] == [
        ("update", "nightly-import"),
        ("update", user),
        ("insert", user),
    ]
    assert changes[0]["before"]["land_use"] == "warehouse" and changes[0]["after"]["land_use"] == "depot"
    assert same_shape(changes[2]["after"]["geom"], SQUARE)
    # An update that changes nothing is not a change.
    await execute(session, "UPDATE parcel SET land_use = land_use WHERE id = :id", id=pid)
    assert (await client.get(f"/parcels/{pid}/history")).json()["numberMatched"] == 3


async def test_project_history_over_committed_transactions(fresh_database):
    """Each request commits here, as on a real server (the `client` fixture shares one transaction)."""
    url = await fresh_database("kaltim_history")
    run_cli("alembic", "upgrade", "head", database_url=url)
    settings = Settings(database_url=url, api_keys=[API_KEY])
    async with app_client(None, settings) as client:
        area = rectangle(*move(*ORIGIN, 0, -3000), 1000, 1000)
        assert (await client.post("/zones", json=zone(area, "his-zone"), headers=AUTH)).status_code == 201
        ids = []
        for i, north in enumerate((-2900, -2700)):
            ring = rectangle(*move(*ORIGIN, 0, north), 100, 100)
            ids.append(
                (await client.post("/parcels", json=parcel(ring, f"HP-{i}"), headers=AUTH)).json()["id"]
            )
        a, b = ids
        project = {"name": "Depot", "sector": "logistics", "status": "offered", "zone": "his-zone"}
        made = await client.post("/projects", json={**project, "parcel_ids": [a]}, headers=AUTH)
        assert made.status_code == 201, made.text
        pid = made.json()["id"]
        moved = {"parcel_ids": [b]}
        assert (await client.patch(f"/projects/{pid}", json=moved, headers=AUTH)).status_code == 200
        changes = (await client.get(f"/projects/{pid}/history")).json()["changes"]
        # Replacing the list (a delete and an insert) is one change of the list.
        assert [(c["table"], c["operation"]) for c in changes] == [
            ("project_parcel", "update"),
            ("project", "update"),
            ("project_parcel", "update"),
            ("project", "insert"),
        ]
        assert changes[0]["before"] == {"parcel_ids": [a]} and changes[0]["after"] == {"parcel_ids": [b]}
        assert changes[2]["before"] == {"parcel_ids": []} and changes[2]["after"] == {"parcel_ids": [a]}
        assert {c["actor"] for c in changes} == {"env-key-1"}
        # The same list again changes nothing in it.
        assert (await client.patch(f"/projects/{pid}", json=moved, headers=AUTH)).status_code == 200
        again = (await client.get(f"/projects/{pid}/history")).json()["changes"]
        assert [c["table"] for c in again[:2]] == ["project", "project_parcel"]
        assert (await client.delete(f"/projects/{pid}", headers=AUTH)).status_code == 204
        after = (await client.get(f"/projects/{pid}/history")).json()["changes"]
        assert {(c["table"], c["operation"]) for c in after[:2]} == {
            ("project", "delete"),
            ("project_parcel", "update"),
        }
        assert next(c for c in after[:2] if c["table"] == "project_parcel")["after"] == {"parcel_ids": []}
        assert (await client.get(f"/projects/{pid}")).status_code == 404
        assert (await client.get("/projects/987654/history")).status_code == 404


async def test_zone_and_facility_history(client, keyed):
    editor = keyed["editor"]
    area = rectangle(*move(*ORIGIN, 0, -3000), 1000, 1000)
    assert (await client.post("/zones", json=zone(area, "his-zone"), headers=editor)).status_code == 201

    zone_changes = (await client.get("/zones/his-zone/history")).json()["changes"]
    assert [c["operation"] for c in zone_changes] == ["insert"] and zone_changes[0]["after"][
        "code"
    ] == "his-zone"
    assert (await client.delete("/zones/his-zone", headers=keyed["admin"])).status_code == 204
    gone = (await client.get("/zones/his-zone/history")).json()["changes"]
    assert [c["operation"] for c in gone] == ["delete", "insert"] and gone[0]["actor"] == "admin"
    assert (await client.get("/zones/never-was/history")).status_code == 404

    port = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(ORIGIN)},
        "properties": {"code": "his-port", "name": "Port", "kind": "port"},
    }
    assert (await client.post("/facilities", json=port, headers=editor)).status_code == 201
    renamed = {"properties": {"name": "Harbour"}}
    assert (await client.patch("/facilities/his-port", json=renamed, headers=editor)).status_code == 200
    facility = (await client.get("/facilities/his-port/history")).json()["changes"]
    assert [c["operation"] for c in facility] == ["update", "insert"]
    assert facility[0]["before"]["name"] == "Port" and facility[0]["after"]["name"] == "Harbour"
    assert facility[0]["after"]["geom"] == {"type": "Point", "coordinates": list(ORIGIN)}


async def ids_at(client, when: str, **params) -> dict[int, dict]:
    answer = await client.get("/parcels", params={"as_of": when, **params})
    assert answer.status_code == 200, answer.text
    return {f["id"]: f for f in answer.json()["features"]}


async def test_as_of_answers_the_states_written(client, session, keyed):
    editor = keyed["editor"]
    t0 = await now(session)
    first = (await client.post("/parcels", json=parcel(SQUARE, "ASOF-1"), headers=editor)).json()["id"]
    t1 = await now(session)
    patch = {"geometry": polygon(MOVED), "properties": {"land_status": "reserved"}}
    assert (await client.patch(f"/parcels/{first}", json=patch, headers=editor)).status_code == 200
    t2 = await now(session)
    second = (await client.post("/parcels", json=parcel(OTHER, "ASOF-2"), headers=editor)).json()["id"]
    t3 = await now(session)
    assert (await client.delete(f"/parcels/{first}", headers=editor)).status_code == 204
    t4 = await now(session)

    # One parcel at each time, as it was then.
    assert (await client.get(f"/parcels/{first}", params={"as_of": t0})).status_code == 404
    then = (await client.get(f"/parcels/{first}", params={"as_of": t1})).json()
    assert then["properties"]["land_status"] == "available" and same_shape(then["geometry"], SQUARE)
    later = (await client.get(f"/parcels/{first}", params={"as_of": t2})).json()
    assert later["properties"]["land_status"] == "reserved" and same_shape(later["geometry"], MOVED)
    gone = await client.get(f"/parcels/{first}", params={"as_of": t4})
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"

    # The list: rows that existed then, as they were; deleted-since in, created-since out.
    assert await ids_at(client, t0) == {}
    assert list(await ids_at(client, t1)) == [first]
    at_t3 = await ids_at(client, t3)
    assert list(at_t3) == [first, second] and same_shape(at_t3[first]["geometry"], MOVED)
    assert list(await ids_at(client, t4)) == [second]
    # Filters apply to the rows as they were.
    square_box = ",".join(map(str, shape(polygon(SQUARE)).bounds))
    assert list(await ids_at(client, t1, bbox=square_box)) == [first]
    assert list(await ids_at(client, t2, bbox=square_box)) == []
    assert list(await ids_at(client, t1, land_status="reserved")) == []
    assert list(await ids_at(client, t3, land_status="reserved")) == [first]
    paged = (await client.get("/parcels", params={"as_of": t3, "limit": 1})).json()
    assert paged["numberMatched"] == 2 and [f["id"] for f in paged["features"]] == [first]


async def test_as_of_before_history_treats_rows_as_existing_since_created_at(client, session):
    await execute(session, "ALTER TABLE parcel DISABLE TRIGGER record_inserts")  # a row from before history
    old = await scalar(
        session,
        "INSERT INTO parcel (code, land_status, geom, created_at) "
        "VALUES ('OLD-1', 'occupied', ST_Multi(ST_GeomFromGeoJSON(:g)), '2026-01-01T00:00:00Z') RETURNING id",
        g=json.dumps(polygon(SQUARE)),
    )
    await execute(session, "ALTER TABLE parcel ENABLE TRIGGER record_inserts")
    assert (await client.get(f"/parcels/{old}/history")).json()["changes"] == []
    assert list(await ids_at(client, "2025-12-31T00:00:00Z")) == []
    assert list(await ids_at(client, "2026-06-01T00:00:00+08:00")) == [old]
    await execute(session, "UPDATE parcel SET land_status = 'available' WHERE id = :id", id=old)
    was = (await client.get(f"/parcels/{old}", params={"as_of": "2026-06-01T00:00:00Z"})).json()
    assert was["properties"]["land_status"] == "occupied"
    assert (await client.get(f"/parcels/{old}", params={"as_of": "2025-06-01T00:00:00Z"})).status_code == 404


@pytest.mark.parametrize(
    "as_of",
    [
        "yesterday",
        "2026-12-01",
        "2026-12-01T08:00:00",
        "2026-13-01T08:00:00Z",
        "0001-01-01T00:00:00+05:00",
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "",
    ],
)
@pytest.mark.parametrize("path", ["/parcels", "/parcels/1"])
async def test_a_bad_as_of_is_a_problem(client, path, as_of):
    answer = await client.get(path, params={"as_of": as_of})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "as_of" in answer.json()["detail"]


async def test_history_needs_no_more_than_reads_do(client):
    assert (await client.get("/parcels/1/history")).status_code == 404
    assert (await client.get("/parcels/0/history")).status_code == 422
    assert (await client.get("/zones/x/history?limit=0")).status_code == 422
    made = await client.post("/parcels", json=parcel(SQUARE, "HIS-9"), headers=AUTH)
    changes = (await client.get(f"{made.headers['location']}/history")).json()["changes"]
    assert changes[0]["actor"] == "env-key-1"
