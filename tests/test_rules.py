"""Rules the database keeps, whoever writes: SQL, COPY and the API, under every isolation level.

Overlaps are computed independently with shapely; concurrent writers are real connections, each
in its own transaction, and whatever they commit is removed afterwards.
"""

import asyncio
import json
import time

import asyncpg
import httpx
import pytest
from shapely import wkt
from shapely.geometry import box
from sqlalchemy.engine import make_url

from tests.conftest import AUTH, SERVER_KEY, scalar, serve
from tests.geo import ORIGIN, move, parcel, rectangle, zone

INSERT = (
    "INSERT INTO parcel (code, land_status, geom) "
    "VALUES ($1, 'available', ST_Multi(ST_GeomFromText($2, 4326))) RETURNING id"
)
# Far from the ground other tests use: the concurrency tests commit, then clean up.
FAR = (118.40, 1.40)


def square(lon: float, lat: float, side: float = 0.002) -> str:
    return box(lon, lat, lon + side, lat + side).wkt


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def pg(migrated):
    """A plain connection inside a transaction that is rolled back afterwards."""
    conn = await asyncpg.connect(dsn(migrated))
    tx = conn.transaction()
    await tx.start()
    yield conn
    await tx.rollback()
    await conn.close()


async def refused(conn, sqlstate: str, sql: str, *args):
    """Run `sql` in a savepoint and return the error it must raise with `sqlstate`."""
    with pytest.raises(asyncpg.PostgresError) as caught:
        async with conn.transaction():
            await conn.execute(sql, *args)
    assert caught.value.sqlstate == sqlstate, caught.value
    return caught.value


def overlapping(candidate: str, stored: dict[int, str]) -> list[int]:
    """Ids whose interiors overlap `candidate`, by shapely."""
    g = wkt.loads(candidate)
    return sorted(i for i, w in stored.items() if g.intersection(wkt.loads(w)).area > 1e-14)


async def test_sql_insert_and_update_are_refused_with_the_ids(pg):
    lon, lat = FAR
    stored = {}
    for code, w in [("R-A", square(lon, lat)), ("R-B", square(lon + 0.002, lat))]:  # sharing an edge
        stored[await pg.fetchval(INSERT, code, w)] = w
    straddling = box(lon + 0.001, lat + 0.0005, lon + 0.003, lat + 0.001).wkt
    error = await refused(pg, "KL001", INSERT, "R-C", straddling)
    assert json.loads(error.detail) == overlapping(straddling, stored) == sorted(stored)
    far_away = await pg.fetchval(INSERT, "R-D", square(lon + 0.01, lat))
    onto_a = square(lon + 0.0005, lat + 0.0005)
    move_sql = "UPDATE parcel SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2"
    error = await refused(pg, "KL001", move_sql, onto_a, far_away)
    assert json.loads(error.detail) == overlapping(onto_a, stored)
    assert await pg.fetchval("SELECT count(*) FROM parcel WHERE code = 'R-C'") == 0


async def test_a_box_past_25_square_degrees_is_refused_on_insert_and_move(pg):
    """The ground-cell rule refuses boxes of more than 250,000 cells of 0.01 degree, whether the
    insert holds one row or many, and on a move; nothing is stored."""
    huge = box(113.9, -2.5, 119.1, 2.5).wkt  # 520 x 500 cells
    at_limit = box(114.0, -2.0, 119.0, 2.9899).wkt  # about 250,000 cells
    many = (
        "INSERT INTO parcel (code, land_status, geom) SELECT c, 'available', "
        "ST_Multi(ST_GeomFromText(w, 4326)) FROM unnest($1::text[], $2::text[]) AS t(c, w)"
    )
    lon, lat = FAR
    for sql, args in [
        (INSERT, ("BOX-A", huge)),
        (many, (["BOX-B", "BOX-C"], [square(lon, lat), huge])),
    ]:
        error = await refused(pg, "22023", sql, *args)
        assert "25 square degrees" in str(error)
    assert await pg.fetchval("SELECT count(*) FROM parcel WHERE code LIKE 'BOX-%'") == 0
    moved = await pg.fetchval(INSERT, "BOX-D", square(lon, lat))
    await refused(pg, "22023", "UPDATE parcel SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2",
                  huge, moved)  # fmt: skip
    async with pg.transaction():  # a box at the limit is taken
        await pg.execute("SELECT set_config('kaltim.allow_overlap', 'test', true)")
        await pg.fetchval(INSERT, "BOX-E", at_limit)
    assert await pg.fetchval("SELECT count(*) FROM parcel WHERE code = 'BOX-E'") == 1


async def test_copy_obeys_the_rule(pg):
    lon, lat = FAR
    first = await pg.fetchval(INSERT, "CP-A", square(lon, lat))
    line = f"CP-B\tavailable\tSRID=4326;MULTIPOLYGON((({_ring(lon + 0.001, lat)})))\n".encode()
    columns = ["code", "land_status", "geom"]
    with pytest.raises(asyncpg.PostgresError) as caught:
        async with pg.transaction():
            await pg.copy_to_table("parcel", source=_source(line), columns=columns, format="text")
    assert caught.value.sqlstate == "KL001" and json.loads(caught.value.detail) == [first]

    async with pg.transaction():
        await pg.execute("SELECT set_config('kaltim.allow_overlap', 'survey dispute 12', true)")
        await pg.copy_to_table("parcel", source=_source(line), columns=columns, format="text")
    second = await pg.fetchval("SELECT id FROM parcel WHERE code = 'CP-B'")
    recorded = await pg.fetch("SELECT parcel_id, other_id, reason FROM parcel_overlap_allowed")
    assert [tuple(r) for r in recorded] == [(first, second, "survey dispute 12")]


async def _source(data: bytes):
    yield data


def _ring(lon: float, lat: float, side: float = 0.002) -> str:
    return ", ".join(f"{x} {y}" for x, y in box(lon, lat, lon + side, lat + side).exterior.coords)


async def test_allowed_overlap_is_recorded_and_only_for_that_pair(pg):
    lon, lat = FAR
    a = await pg.fetchval(INSERT, "AL-A", square(lon, lat))
    await pg.execute("SELECT set_config('kaltim.allow_overlap', 'shared access road', true)")
    b = await pg.fetchval(INSERT, "AL-B", square(lon + 0.001, lat))
    await pg.execute("SELECT set_config('kaltim.allow_overlap', '', true)")
    assert await pg.fetchval("SELECT reason FROM parcel_overlap_allowed WHERE parcel_id = $1", a) == (
        "shared access road"
    )
    # B may still move while it overlaps only A ...
    nudge = "UPDATE parcel SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2"
    await pg.execute(nudge, square(lon + 0.0012, lat), b)
    # ... but not onto a new parcel C without a new allowance.
    c = await pg.fetchval(INSERT, "AL-C", square(lon + 0.004, lat))
    error = await refused(pg, "KL001", nudge, square(lon + 0.003, lat), b)
    assert json.loads(error.detail) == [c]
    # Deleting a parcel removes its allowances.
    await pg.execute("DELETE FROM parcel WHERE id = $1", a)
    assert await pg.fetchval("SELECT count(*) FROM parcel_overlap_allowed") == 0


async def test_api_allow_overlap_records_the_pair(client, session):
    first = (
        await client.post("/parcels", json=parcel(rectangle(*ORIGIN, 100, 100), "API-1"), headers=_auth())
    ).json()
    shifted = parcel(rectangle(*move(*ORIGIN, 90, 50), 100, 100), "API-2")
    refused_ = await client.post("/parcels", json=shifted, headers=_auth())
    assert refused_.status_code == 409 and refused_.json()["overlapping_parcel_ids"] == [first["id"]]
    allowed = await client.post("/parcels", json=shifted, headers=_auth(), params={"allow_overlap": "true"})
    assert allowed.status_code == 201
    pairs = await scalar(session, "SELECT count(*) FROM parcel_overlap_allowed")
    assert pairs == 1
    # The setting does not outlive the request: the next overlap is refused again.
    third = parcel(rectangle(*move(*ORIGIN, 90, 20), 100, 100), "API-3")
    assert (await client.post("/parcels", json=third, headers=_auth())).status_code == 409


def _auth():
    return AUTH


async def _cleanup(url: str, prefix: str) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("DELETE FROM parcel WHERE code LIKE $1", prefix + "%")
    finally:
        await conn.close()


@pytest.mark.parametrize("level", ["read committed", "repeatable read", "serializable"])
async def test_concurrent_overlapping_inserts_store_exactly_one(migrated, level):
    prefix = f"CC-{level.split()[0]}-"
    lon, lat = FAR[0] + 0.1, FAR[1]
    conns = [await asyncpg.connect(dsn(migrated)) for _ in range(4)]
    outcomes = []
    try:
        txs = [c.transaction(isolation=level.replace(" ", "_")) for c in conns]
        for c, tx in zip(conns, txs, strict=True):
            await tx.start()
            await c.fetchval("SELECT count(*) FROM parcel")  # the snapshot is taken here

        async def write(i: int, c, tx) -> None:
            try:
                await c.fetchval(INSERT, f"{prefix}{i}", square(lon + 0.0004 * i, lat))
                await tx.commit()
                outcomes.append("stored")
            except asyncpg.PostgresError as exc:
                await tx.rollback()
                outcomes.append(exc.sqlstate)

        await asyncio.gather(*(write(i, c, tx) for i, (c, tx) in enumerate(zip(conns, txs, strict=True))))
        stored = await conns[0].fetch("SELECT code FROM parcel WHERE code LIKE $1", prefix + "%")
        assert len(stored) == 1, (outcomes, stored)
        assert outcomes.count("stored") == 1
        assert set(outcomes) - {"stored"} <= {"KL001", "40001", "40P01"}
    finally:
        for c in conns:
            await c.close()
        await _cleanup(migrated, prefix)


async def test_writes_far_apart_do_not_wait(migrated):
    a = await asyncpg.connect(dsn(migrated))
    b = await asyncpg.connect(dsn(migrated))
    try:
        tx = a.transaction()
        await tx.start()
        await a.fetchval(INSERT, "FA-A", square(*FAR))
        started = time.monotonic()
        await b.execute("SET lock_timeout = '3s'")
        await b.fetchval(INSERT, "FA-B", square(FAR[0] + 0.05, FAR[1]))  # autocommit
        assert time.monotonic() - started < 1.0
        await tx.rollback()
    finally:
        await a.close()
        await b.close()
        await _cleanup(migrated, "FA-")


async def test_a_lock_wait_past_lock_timeout_is_a_503_problem(migrated):
    holder = await asyncpg.connect(dsn(migrated))
    try:
        with serve(migrated, lock_timeout_s="1") as base:
            tx = holder.transaction()
            await tx.start()
            spot = (116.95, -1.05)
            await holder.fetchval(INSERT, "LT-A", square(*spot, 0.0005))
            feature = parcel(rectangle(*move(*spot, 90, 200), 50, 50), "LT-B")  # same cell
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=base) as http:
                response = await http.post(
                    "/parcels", json=feature, headers={"Authorization": f"Bearer {SERVER_KEY}"}, timeout=30
                )
            assert time.monotonic() - started < 5
            assert response.status_code == 503, response.text
            assert response.json()["type"] == "/problems/busy" and int(response.headers["retry-after"]) > 0
            await tx.rollback()
    finally:
        await holder.close()
        await _cleanup(migrated, "LT-")


# --- projects -----------------------------------------------------------------------------


async def _estate(pg, code: str, w: str) -> int:
    return await pg.fetchval(
        "INSERT INTO zone (code, name, kind, status, geom) "
        "VALUES ($1, $1, 'industrial_estate', 'planned', ST_Multi(ST_GeomFromText($2, 4326))) RETURNING id",
        code,
        w,
    )


async def _project(pg, name: str, zone_id: int, status: str = "offered") -> int:
    return await pg.fetchval(
        "INSERT INTO project (name, sector, status, zone_id) VALUES ($1, 'logistics', $2, $3) RETURNING id",
        name,
        status,
        zone_id,
    )


async def test_project_parcels_stay_in_the_zone_on_every_side(pg):
    lon, lat = FAR
    zone_w = box(lon, lat, lon + 0.01, lat + 0.01).wkt
    zone_id = await _estate(pg, "rule-estate", zone_w)
    other_zone = await _estate(pg, "rule-other", box(lon + 0.02, lat, lon + 0.03, lat + 0.01).wkt)
    inside = await pg.fetchval(INSERT, "PZ-IN", square(lon + 0.001, lat + 0.001))
    outside = await pg.fetchval(INSERT, "PZ-OUT", square(lon + 0.012, lat + 0.001))
    assert wkt.loads(zone_w).covers(wkt.loads(square(lon + 0.001, lat + 0.001)))
    assert not wkt.loads(zone_w).covers(wkt.loads(square(lon + 0.012, lat + 0.001)))
    project = await _project(pg, "Cold store", zone_id)
    add = "INSERT INTO project_parcel (project_id, parcel_id) VALUES ($1, $2)"

    error = await refused(pg, "KL002", add, project, outside)
    assert json.loads(error.detail) == {
        "rule": "parcel-in-zone",
        "project_id": project,
        "project": "Cold store",
        "zone": "rule-estate",
        "parcel_ids": [outside],
    }
    await pg.execute(add, project, inside)
    # moving the parcel out of the zone
    error = await refused(
        pg,
        "KL002",
        "UPDATE parcel SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2",
        square(lon + 0.015, lat + 0.005),
        inside,
    )
    assert json.loads(error.detail)["parcel_ids"] == [inside]
    # shrinking the zone away from it
    error = await refused(
        pg,
        "KL002",
        "UPDATE zone SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2",
        box(lon + 0.005, lat, lon + 0.01, lat + 0.01).wkt,
        zone_id,
    )
    assert json.loads(error.detail)["zone"] == "rule-estate"
    # moving the project to a zone that does not hold its parcels
    error = await refused(pg, "KL002", "UPDATE project SET zone_id = $1 WHERE id = $2", other_zone, project)
    assert json.loads(error.detail) == {
        "rule": "parcel-in-zone",
        "project_id": project,
        "project": "Cold store",
        "zone": "rule-other",
        "parcel_ids": [inside],
    }
    # a zone may grow, and a parcel may move within it
    await pg.execute(
        "UPDATE zone SET geom = ST_Multi(ST_GeomFromText($1, 4326)) WHERE id = $2",
        box(lon - 0.01, lat, lon + 0.01, lat + 0.01).wkt,
        zone_id,
    )


async def test_a_parcel_serves_one_active_project(pg):
    lon, lat = FAR
    zone_id = await _estate(pg, "rule-one", box(lon, lat, lon + 0.01, lat + 0.01).wkt)
    p = await pg.fetchval(INSERT, "ONE-1", square(lon + 0.001, lat + 0.001))
    first = await _project(pg, "First", zone_id)
    second = await _project(pg, "Second", zone_id)
    add = "INSERT INTO project_parcel (project_id, parcel_id) VALUES ($1, $2)"
    await pg.execute(add, first, p)
    error = await refused(pg, "23505", add, second, p)
    assert error.constraint_name == "ux_project_parcel_active_parcel_id"
    # withdrawing the first frees the parcel; bringing it back is then refused
    await pg.execute("UPDATE project SET status = 'withdrawn' WHERE id = $1", first)
    assert await pg.fetchval("SELECT active FROM project_parcel WHERE project_id = $1", first) is False
    await pg.execute(add, second, p)
    await refused(pg, "23505", "UPDATE project SET status = 'offered' WHERE id = $1", first)
    # a withdrawn project's new parcels are inactive from the start
    q = await pg.fetchval(INSERT, "ONE-2", square(lon + 0.004, lat + 0.001))
    await pg.execute(add, first, q)
    assert await pg.fetchval("SELECT active FROM project_parcel WHERE parcel_id = $1", q) is False


async def test_project_rules_over_http(client):
    auth = _auth()
    ring = rectangle(*ORIGIN, 1000, 1000)
    assert (await client.post("/zones", json=zone(ring, "rule-http"), headers=auth)).status_code == 201
    a = (
        await client.post(
            "/parcels", json=parcel(rectangle(*move(*ORIGIN, 45, 200), 100, 100), "RH-A"), headers=auth
        )
    ).json()["id"]
    body = {"name": "Depot", "sector": "logistics", "zone": "rule-http", "parcel_ids": [a]}
    first = await client.post("/projects", json=body, headers=auth)
    assert first.status_code == 201, first.text
    second = await client.post("/projects", json={**body, "name": "Rival"}, headers=auth)
    assert second.status_code == 409 and second.json()["type"] == "/problems/project-rule"
    assert first.json()["id"] in second.json().get("project_ids", [first.json()["id"]])
    shrunk = {"geometry": {"type": "Polygon", "coordinates": [rectangle(*move(*ORIGIN, 0, 600), 1000, 300)]}}
    response = await client.patch("/zones/rule-http", json=shrunk, headers=auth)
    assert response.status_code == 409 and response.json()["type"] == "/problems/project-rule"
    assert response.json()["parcel_ids"] == [a] and response.json()["zone"] == "rule-http"
    moved = {"geometry": {"type": "Polygon", "coordinates": [rectangle(*move(*ORIGIN, 90, 3000), 100, 100)]}}
    response = await client.patch(f"/parcels/{a}", json=moved, headers=auth)
    assert response.status_code == 409 and response.json()["project_id"] == first.json()["id"]
    withdrawn = await client.patch(
        f"/projects/{first.json()['id']}", json={"status": "withdrawn"}, headers=auth
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert (await client.post("/projects", json={**body, "name": "Rival"}, headers=auth)).status_code == 201
