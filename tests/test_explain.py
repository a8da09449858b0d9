"""The spatial queries are served by the indexes, checked on the plans the API runs: every statement
a request sends is EXPLAINed, and no table that grows with the data (parcels, constraint areas,
administrative areas) is read by a sequential scan."""

import json
import math
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import event, text

from app.db import PLANNER_SETTINGS
from app.queries import layers
from app.queries.demo import tile_zones

# Tables that grow with the data: never read by a sequential scan on these paths.
LARGE = ("parcel", "constraint_feature", "admin_area")
# zone holds a handful of rows (the three priority zones): reading it whole, once or for the few
# rows a join expects, is the planner's right choice, but the zones of each parcel of a page
# (a correlated subquery, run per parcel whatever the planner expects) go through its GiST index.
# facility (a dozen ports, airports, cities and IKN) and constraint_layer (the few layers admins
# made) are small enough to read whole.
PER_PARCEL_INDEXED = ("zone",)


@pytest.fixture
async def many_parcels(session, seeded):
    """About 9,500 demo parcels (100 m tiles over the three zones), with fresh statistics."""
    await tile_zones(session, 100)
    for table in ("parcel", "zone", "admin_area"):
        await session.execute(text(f"ANALYZE {table}"))


# A protected forest of 150 m squares every 300 m over the zones (about 1,200 areas), and a spatial
# plan of 500 m squares covering them (about 460), two thirds allowing industry and port, the
# rest agriculture: built in UTM 50S like the demo parcels.
FOREST_AREAS = """
INSERT INTO constraint_feature (layer_id, code, name, geom)
SELECT :layer_id, format('HL-%s-%s-%s', z.code, g.i, g.j), 'Hutan lindung',
       ST_Multi(ST_Transform(ST_Expand(ST_Centroid(g.geom), 75), 4326))
FROM zone z CROSS JOIN LATERAL ST_SquareGrid(300, ST_Transform(z.geom, 32750)) g
WHERE ST_Intersects(g.geom, ST_Transform(z.geom, 32750))
"""
PLAN_AREAS = """
INSERT INTO constraint_feature (layer_id, code, name, allowed_uses, geom)
SELECT :layer_id, format('RTRW-%s-%s-%s', z.code, g.i, g.j), 'Pola ruang',
       CASE WHEN (g.i + g.j) % 3 = 0 THEN '{agriculture}'::text[] ELSE '{industry,port}'::text[] END,
       ST_Multi(ST_Transform(g.geom, 4326))
FROM zone z CROSS JOIN LATERAL ST_SquareGrid(500, ST_Transform(z.geom, 32750)) g
WHERE ST_Intersects(g.geom, ST_Transform(z.geom, 32750))
"""


@pytest.fixture
async def constraint_layers(session, many_parcels) -> int:
    """A protected forest and a spatial plan over the zones, with fresh statistics; the areas'
    count."""
    for name, kind, areas in (
        ("hutan-lindung", "protected_forest", FOREST_AREAS),
        ("rtrw", "spatial_plan", PLAN_AREAS),
    ):
        layer = await layers.create(
            session,
            {
                "name": name,
                "title": name,
                "kind": kind,
                "source": "generated grid",
                "licence": "CC0",
                "description": None,
                "attributes": {},
            },
        )
        await session.execute(text(areas), {"layer_id": layer.id})
    for table in ("constraint_layer", "constraint_feature"):
        await session.execute(text(f"ANALYZE {table}"))
    return await session.scalar(text("SELECT count(*) FROM constraint_feature"))


async def plans_of(connection, client, url: str) -> list[tuple[str, str]]:
    """Run `url` through the API and EXPLAIN every statement it sent: (statement, JSON plan)."""
    return (await explained(connection, client, url))[1]


async def explained(connection, client, url: str) -> tuple[httpx.Response, list[tuple[str, str]]]:
    """Run `url` through the API (it must answer 200) and EXPLAIN every statement it sent: the
    response, and each statement with its JSON plan. The EXPLAINs the API sends itself (to
    estimate a count) run nothing, and savepoints and settings read nothing: they are left out."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE"):
            statements.append((statement, parameters))

    sync = connection.sync_connection
    event.listen(sync, "before_cursor_execute", capture)
    try:
        response = await client.get(url)
    finally:
        event.remove(sync, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    plans = []
    for name, value in PLANNER_SETTINGS.items():  # planned as the API's connections plan
        await connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )
    for statement, parameters in statements:
        result = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plans.append((statement, json.dumps(result.scalar())))
    return response, plans


def table_scans(plan: str) -> list[tuple[dict, bool]]:
    """Every scan of a table in the plan, with whether it lies in a correlated subquery (a SubPlan
    other than a hashed one), run again for each row of the query around it."""
    found = []

    def walk(node: dict, per_row: bool) -> None:
        if "Relation Name" in node:
            found.append((node, per_row))
        for child in node.get("Plans", []):
            correlated = child.get("Parent Relationship") == "SubPlan" and not child.get(
                "Subplan Name", ""
            ).startswith("hashed")
            walk(child, per_row or correlated)

    walk(json.loads(plan)[0]["Plan"], False)
    return found


def scans_of(plan: str, relation: str) -> list[dict]:
    return [scan for scan, _ in table_scans(plan) if scan["Relation Name"] == relation]


def index_names(scan: dict) -> set[str]:
    """Indexes a scan reads: its own, or those of the Bitmap Index Scans beneath a Bitmap Heap Scan."""
    names = {scan["Index Name"]} if "Index Name" in scan else set()
    for child in scan.get("Plans", []):
        if child["Node Type"].startswith("Bitmap"):  # not the subqueries of its filter
            names |= index_names(child)
    return names


def assert_no_sequential_scans(url: str, statement: str, plan: str) -> None:
    """No large table is scanned sequentially, nor zone for each parcel of a page."""
    for scan, per_row in table_scans(plan):
        table = scan["Relation Name"]
        sequential = scan["Node Type"] == "Seq Scan"
        assert not (sequential and table in LARGE), (url, table, statement, plan)
        assert not (sequential and per_row and table in PER_PARCEL_INDEXED), (url, table, statement, plan)


SPATIAL_URLS = [
    "/zones/kek-mbtk/parcels?limit=1000",
    "/zones/kek-mbtk/parcels?relation=intersects&limit=1000",
    "/parcels?zone=kek-mbtk&limit=1000",
    "/parcels?bbox=116.79,-1.13,116.81,-1.11&limit=1000",
    "/parcels/search?zone=kek-mbtk&min_area_ha=0.5&limit=100",
    "/parcels/search?max_distance_to_port_m=2000&max_distance_to_capital_m=40000&limit=100",
    "/parcels/search?near=116.80,-1.12&within_m=500&limit=100",
    "/zones/kek-mbtk/summary",
    "/parcels/conflicts?zone=kek-mbtk",
    "/parcels/conflicts?bbox=116.79,-1.13,116.81,-1.11",
]


async def test_spatial_filters_use_the_gist_index(connection, client, many_parcels):
    """No statement scans parcels sequentially; each that reads them finds them through the GiST
    index (other parcel scans in the same plan may be primary-key look-ups of rows it found)."""
    for url in SPATIAL_URLS:
        plans = await plans_of(connection, client, url)
        assert any(scans_of(plan, "parcel") for _, plan in plans), f"{url}: no statement read parcels"
        for statement, plan in plans:
            assert_no_sequential_scans(url, statement, plan)
            scans = scans_of(plan, "parcel")
            assert not scans or any("idx_parcel_geom" in index_names(scan) for scan in scans), (url, plan)


async def test_as_of_lists_are_served_by_the_indexes(connection, client, session, many_parcels):
    """Parcels unchanged since `as_of` come through the GiST index, each checked against the change
    index; the changes since `as_of` are found through the change index too."""
    await session.execute(text("ANALYZE change"))
    when = (await session.scalar(text("SELECT clock_timestamp()"))).isoformat()
    url = f"/parcels?bbox=116.79,-1.13,116.81,-1.11&limit=1000&as_of={quote(when)}"
    plans = await plans_of(connection, client, url)
    assert plans
    for statement, plan in plans:
        assert_no_sequential_scans(url, statement, plan)
        parcels, changes = scans_of(plan, "parcel"), scans_of(plan, "change")
        assert all(scan["Node Type"] != "Seq Scan" for scan in changes), (url, plan)
        if parcels:
            assert any("idx_parcel_geom" in index_names(scan) for scan in parcels), plan
            assert changes and all(index_names(scan) for scan in changes), plan


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The WebMercatorQuad tile x, y holding a point at zoom z."""
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


GIST_PARCELS, GIST_AREAS, GIST_ADMIN, GIST_ZONES = (
    "idx_parcel_geom",
    "idx_constraint_feature_geom",
    "idx_admin_area_geom",
    "idx_zone_geom",
)
LAND_STATUS = "ix_parcel_land_status_area_ha"
BBOX = "116.79,-1.13,116.81,-1.11"  # in Kariangau (KIK), Balikpapan
NEAR = "near=116.80,-1.12&within_m=1500"
EXCLUDE = "exclude=hutan-lindung&exclude_tolerance=0.2"


def land_paths(parcel_id: int, tile: tuple[int, int]) -> dict[str, set[str]]:
    """The land-identification requests, each with the indexes its plans must read."""
    x, y = tile
    return {
        f"/parcels/{parcel_id}/constraints": {"pk_parcel", GIST_AREAS},
        # Alone, exclude, require and conforms_to_plan restrict no ground in advance: every
        # available parcel is a candidate (found by the land-status index) and each is checked
        # against the areas through their GiST index.
        "/parcels/search?exclude=hutan-lindung&limit=100": {LAND_STATUS, GIST_AREAS},
        f"/parcels/search?{EXCLUDE}&limit=100": {LAND_STATUS, GIST_AREAS},
        "/parcels/search?require=rtrw&limit=100": {LAND_STATUS, GIST_AREAS},
        "/parcels/search?conforms_to_plan=industry&limit=100": {LAND_STATUS, GIST_AREAS},
        # With a distance criterion, that criterion drives through parcel's GiST index.
        f"/parcels/search?{EXCLUDE}&max_distance_to_port_m=3000&limit=100": {GIST_PARCELS, GIST_AREAS},
        f"/parcels/search?require=rtrw&{NEAR}&limit=100": {GIST_PARCELS, GIST_AREAS},
        "/parcels/search?conforms_to_plan=industry&max_distance_to_capital_m=40000&limit=100": {
            GIST_PARCELS,
            GIST_AREAS,
        },
        f"/parcels/search?{EXCLUDE}&require=rtrw&conforms_to_plan=industry&{NEAR}&limit=100": {
            GIST_PARCELS,
            GIST_AREAS,
        },
        "/zones/kik-kariangau/summary": {GIST_PARCELS, GIST_AREAS},
        "/admin/lookup?lon=116.80&lat=-1.12": {GIST_ADMIN},
        # Reads that report each feature's regency and district (and a parcel's zones) take them
        # as the database keeps them (test_derived_facts_are_read_as_stored).
        f"/parcels?bbox={BBOX}&limit=1000": {GIST_PARCELS},
        f"/parcels/{parcel_id}": {"pk_parcel"},
        # A constraint layer as an OGC collection and as vector tiles.
        f"/ogc/collections/hutan-lindung/items?bbox={BBOX}": {GIST_AREAS},
        f"/tiles/hutan-lindung/14/{x}/{y}.mvt": {GIST_AREAS},
    }


STORED_READS = [f"/parcels?bbox={BBOX}&limit=1000", "/parcels/search?zone=kik-kariangau&limit=100", "/zones"]


async def test_derived_facts_are_read_as_stored(connection, client, many_parcels):
    """A parcel's zones and a feature's regency and district are columns the database keeps
    (migration 0009): the reads that report them read no zone and no administrative area."""
    for url in STORED_READS:
        response, plans = await explained(connection, client, url)
        assert response.status_code == 200 and plans, url
        for statement, plan in plans:
            for table in ("admin_area", "zone") if url.startswith("/parcels?") else ("admin_area",):
                assert not scans_of(plan, table), (url, table, statement)


def lists_plan_uses(statement: str) -> bool:
    """The statement that lists the uses the spatial plans allow (to check conforms_to_plan)."""
    return "unnest(f.allowed_uses)" in statement


async def test_land_identification_is_served_by_the_indexes(connection, client, session, constraint_layers):
    """A parcel's constraints, site search by layers and plan (alone and with a distance), the zone
    summary with constraint layers, the administrative lookup, the reads that report regency and
    district, and a layer's OGC items and tiles: no statement reads parcels, constraint areas or
    administrative areas sequentially, each request reads the indexes it should, and constraint
    areas are found by location, not by reading their layer whole (but for the uses the spatial
    plans allow, listed to check conforms_to_plan)."""
    assert constraint_layers > 1_500
    parcel_id = await session.scalar(
        text(
            """SELECT p.id FROM parcel p JOIN constraint_feature f
                   ON f.geom && p.geom AND ST_Relate(f.geom, p.geom, '2********')
               JOIN constraint_layer l ON l.id = f.layer_id AND l.name = 'hutan-lindung'
               ORDER BY p.id LIMIT 1"""
        )
    )
    for url, indexes in land_paths(parcel_id, tile_of(116.80, -1.12, 14)).items():
        response, plans = await explained(connection, client, url)
        assert_answered(url, response)
        read = set()
        for statement, plan in plans:
            assert_no_sequential_scans(url, statement, plan)
            for scan in scans_of(plan, "constraint_feature"):
                # Checking conforms_to_plan lists the uses the plans allow: the plans' areas, read
                # by layer. Every other read of areas goes by location.
                assert GIST_AREAS in index_names(scan) or lists_plan_uses(statement), (url, statement, plan)
            read |= {name for scan, _ in table_scans(plan) for name in index_names(scan)}
        assert indexes <= read, (url, indexes - read, read)


def assert_answered(url: str, response: httpx.Response) -> None:
    """The request found what the layers put there, so its plans are those of real answers."""
    if url.endswith(".mvt"):
        assert response.content, url
        return
    body = response.json()
    if "/constraints" in url:
        assert {c["layer"] for c in body["constraints"]} == {"hutan-lindung", "rtrw"}, body
    elif url.endswith("/summary"):
        assert [c["layer"] for c in body["constraints"]] == ["hutan-lindung"], body
        assert 0 < body["unconstrained_available_area_ha"] < body["available_area_ha"], body
    elif url.startswith("/admin/lookup"):
        assert body["regency"] and body["district"], body
    elif "features" in body:
        assert body["features"], url
    else:
        assert body["properties"]["regency"], body
