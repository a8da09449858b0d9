"""The spatial queries are served by the GiST index on parcels, checked on the plans the API runs."""

import json
from urllib.parse import quote

import pytest
from sqlalchemy import event, text

from app.queries.demo import tile_zones


@pytest.fixture
async def many_parcels(session, seeded):
    """About 9,500 demo parcels (100 m tiles over the three zones), with fresh statistics."""
    await tile_zones(session, 100)
    await session.execute(text("ANALYZE parcel"))


async def plans_of(connection, client, url: str) -> list[str]:
    """Run `url` through the API and EXPLAIN every statement it sent that reads parcels."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "parcel" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
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
        plans.append(json.dumps(result.scalar()))
    return plans


def parcel_scans(plan: str) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("Relation Name") == "parcel":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(plan))
    return found


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
        assert plans, f"{url}: no statement read the parcel table"
        for plan in plans:
            scans = parcel_scans(plan)
            assert all(scan["Node Type"] != "Seq Scan" for scan in scans), (url, scans)
            assert any("idx_parcel_geom" in index_names(scan) for scan in scans), (url, plan)


def index_names(scan: dict) -> set[str]:
    """Indexes a scan reads: its own, or those of the Bitmap Index Scans beneath a Bitmap Heap Scan."""
    names = {scan["Index Name"]} if "Index Name" in scan else set()
    for child in scan.get("Plans", []):
        names |= index_names(child)
    return names


def scans_of(plan: str, relation: str) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("Relation Name") == relation:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(plan))
    return found


async def test_as_of_lists_are_served_by_the_indexes(connection, client, session, many_parcels):
    """Parcels unchanged since `as_of` come through the GiST index, each checked against the change
    index; the changes since `as_of` are found through the change index too."""
    await session.execute(text("ANALYZE change"))
    when = (await session.scalar(text("SELECT clock_timestamp()"))).isoformat()
    url = f"/parcels?bbox=116.79,-1.13,116.81,-1.11&limit=1000&as_of={quote(when)}"
    plans = await plans_of(connection, client, url)
    assert plans
    for plan in plans:
        parcels, changes = scans_of(plan, "parcel"), scans_of(plan, "change")
        assert all(scan["Node Type"] != "Seq Scan" for scan in parcels + changes), (url, plan)
        assert any("idx_parcel_geom" in index_names(scan) for scan in parcels), plan
        assert changes and all(index_names(scan) for scan in changes), plan
