"""The spatial queries are served by the indexes, checked on the plans the API runs: every statement
a request sends is EXPLAINed, and no table that grows with the data (parcels, constraint areas,
administrative areas) is read by a sequential scan."""

import json
from urllib.parse import quote

import pytest
from sqlalchemy import event, text

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


async def plans_of(connection, client, url: str) -> list[tuple[str, str]]:
    """Run `url` through the API and EXPLAIN every statement it sent: (statement, JSON plan).
    The EXPLAINs the API sends itself (to estimate a count) run nothing and are left out."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith("EXPLAIN"):
            statements.append((statement, parameters))

    sync = connection.sync_connection
    event.listen(sync, "before_cursor_execute", capture)
    try:
        response = await client.get(url)
    finally:
        event.remove(sync, "before_cursor_execute", capture)
    assert response.status_code == 200, response.text
    plans = []
    for statement, parameters in statements:
        result = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plans.append((statement, json.dumps(result.scalar())))
    return plans


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
