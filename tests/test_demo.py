"""The demo data as `python -m app.cli demo-parcels` makes it, asked over HTTP of a served API:
the illustrative overlaps and parcels across a zone's edge that /parcels/conflicts and
relation=intersects find, and the illustrative constraint layers behind /parcels/{id}/constraints,
site search and the zone summary. Every number is checked against shapely and pyproj
(tests/geo.py) on the geometries the API serves; running the command again changes nothing."""

import asyncpg
import httpx
import pytest
from shapely import STRtree
from shapely.geometry import shape
from shapely.ops import unary_union

from app.queries.demo import OVERLAP_REASON
from tests.conftest import prepared_database, run_cli, serve
from tests.geo import area_ha, close
from tests.test_migrations import dsn

ZONES = ["kek-mbtk", "kib-buluminung", "kik-kariangau"]
FLOOD, PLAN = "demo-flood-hazard", "demo-spatial-plan"
CELL_M = 250  # the command's default, as make run and the API container use it


@pytest.fixture(scope="module")
async def demo(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_demo", cell_m=CELL_M)
    with serve(url) as base:
        yield base, url


def get(base: str, path: str, **params) -> dict:
    response = httpx.get(base + path, params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def features(base: str, path: str, **params) -> list[dict]:
    body = get(base, path, limit=10000, **params)
    assert body["numberMatched"] == len(body["features"]) < 10000
    return body["features"]


def m2(geometry) -> float:
    """Geodesic area (pyproj's GeographicLib) of a shapely geometry, m²."""
    return area_ha(geometry) * 10_000


def near(actual: float, expected: float) -> bool:
    """Within 0.1 %, or 0.5 m² (served coordinates are rounded to about 1 mm)."""
    return close(actual, expected, rel=1e-3, abs_m=0.5)


def zone_shape(base: str, code: str):
    return shape(get(base, f"/zones/{code}")["geometry"])


def layer_shapes(base: str, layer: str) -> dict[str, dict]:
    """code -> (properties, shapely geometry) of a layer's areas."""
    return {
        f["properties"]["code"]: (f["properties"], shape(f["geometry"]))
        for f in features(base, f"/layers/{layer}/features")
    }


def overlapping_pairs(parcels: list[dict]) -> dict[tuple[int, int], float]:
    """(id, id) -> geodesic area of the shared ground, for every pair of `parcels` whose interiors
    overlap, found by shapely."""
    shapes = [shape(f["geometry"]) for f in parcels]
    tree = STRtree(shapes)
    pairs = {}
    for i, a in enumerate(shapes):
        for j in tree.query(a):
            b = shapes[j]
            first, second = parcels[i]["id"], parcels[j]["id"]
            if first < second and a.relate_pattern(b, "2********"):
                pairs[(first, second)] = m2(a.intersection(b))
    return pairs


async def test_conflicts_find_the_illustrative_overlaps(demo):
    base, url = demo
    found: set[tuple[int, int]] = set()
    for zone in ZONES:
        parcels = features(base, f"/zones/{zone}/parcels", relation="intersects")
        by_id = {f["id"]: f["properties"] for f in parcels}
        expected = overlapping_pairs(parcels)
        conflicts = features(base, "/parcels/conflicts", zone=zone, type="overlap")
        served = {tuple(f["properties"]["parcel_ids"]): f for f in conflicts}
        # two illustrative parcels per zone, each over two demo parcels
        assert set(served) == set(expected) and len(expected) == 4, zone
        for pair, feature in served.items():
            overlap_m2 = feature["properties"]["overlap_m2"]
            assert near(overlap_m2, expected[pair]), (pair, overlap_m2, expected[pair])
            assert near(m2(shape(feature["geometry"])), expected[pair])  # the shared ground itself
            first, second = (by_id[i] for i in pair)
            assert feature["properties"]["codes"] == [first["code"], second["code"]]
            drawn, overlapped = sorted((first, second), key=lambda p: "-OVERLAP-" not in p["code"])
            assert drawn["attributes"]["illustrative"] is True and drawn["zones"] == [zone]
            assert drawn["attributes"]["illustrates"] == "overlap"
            assert overlapped["code"] in drawn["attributes"]["overlaps"]
            assert overlapped["attributes"]["illustrative"] is True
            assert drawn["code"] in overlapped["attributes"]["overlaps"]
        found |= set(served)
    conn = await asyncpg.connect(dsn(url))
    try:
        allowed = {
            (r["parcel_id"], r["other_id"]): r["reason"]
            for r in await conn.fetch("SELECT parcel_id, other_id, reason FROM parcel_overlap_allowed")
        }
    finally:
        await conn.close()
    assert allowed == dict.fromkeys(found, OVERLAP_REASON)  # recorded as allowed, and why


async def test_intersects_finds_the_parcels_across_each_zone_edge(demo):
    base, _ = demo
    for zone in ZONES:
        outline = zone_shape(base, zone)
        parcels = features(base, f"/zones/{zone}/parcels", relation="intersects")
        across = {f["id"]: f for f in parcels if not outline.covers(shape(f["geometry"]))}
        # three per zone, all illustrative, and nothing else crosses the edge
        assert len(across) == 3, zone
        shares = []
        for feature in parcels:
            props, geom = feature["properties"], shape(feature["geometry"])
            if feature["id"] not in across:
                assert props["share_in_zone"] == 1.0 and props["zones"] == [zone]
                continue
            share = m2(geom.intersection(outline)) / m2(geom)
            assert abs(props["share_in_zone"] - share) < 1e-4, (props["code"], props["share_in_zone"], share)
            assert props["zones"] == []  # no zone covers it
            assert props["attributes"]["illustrative"] is True
            assert props["attributes"]["illustrates"] == "straddle" and props["attributes"]["zone"] == zone
            shares.append(share)
        # mostly inside, about half, mostly outside
        low, middle, high = sorted(shares)
        assert low < 0.35 and 0.35 < middle < 0.65 and high > 0.55, shares
        # /parcels/conflicts lists the same parcels with the same shares
        straddles = features(base, "/parcels/conflicts", zone=zone, type="straddle")
        assert {f["properties"]["id"]: f["properties"]["share_in_zone"] for f in straddles} == {
            i: f["properties"]["share_in_zone"] for i, f in across.items()
        }


async def test_every_illustrative_parcel_is_in_a_conflict(demo):
    base, _ = demo
    every = features(base, "/parcels")
    illustrative = {f["id"] for f in every if f["properties"]["attributes"].get("illustrative")}
    in_conflict = set()
    for f in features(base, "/parcels/conflicts"):
        in_conflict |= set(f["properties"].get("parcel_ids") or [f["properties"].get("id")])
    assert illustrative == in_conflict and len(illustrative) == 3 * (3 + 2 + 4)
    assert all(f["properties"]["attributes"]["demo"] is True for f in every)


async def test_the_layers_say_they_are_illustrative(demo):
    base, _ = demo
    listed = {layer["name"]: layer for layer in get(base, "/layers")["layers"]}
    assert set(listed) == {FLOOD, PLAN}
    assert (listed[FLOOD]["kind"], listed[PLAN]["kind"]) == ("flood_hazard", "spatial_plan")
    for layer in listed.values():
        for field in ("title", "description", "source", "licence"):
            assert "illustrative" in layer[field].lower(), (layer["name"], field)
        assert layer["attributes"]["illustrative"] is True
        assert all(p["attributes"]["illustrative"] for p, _ in layer_shapes(base, layer["name"]).values())
    assert listed[FLOOD]["features"] == 3 and listed[PLAN]["features"] == 6


async def test_constraints_of_parcels_the_flood_layer_covers_partly_and_wholly(demo):
    base, _ = demo
    kinds = {"partly": 0, "wholly": 0}
    for code, (_, flood) in layer_shapes(base, FLOOD).items():
        zone = code.removeprefix("DEMO-FLOOD-").lower()
        for feature in features(base, f"/zones/{zone}/parcels", bbox=",".join(map(str, flood.bounds))):
            geom = shape(feature["geometry"])
            if not geom.relate_pattern(flood, "2********"):
                continue
            expected = m2(geom.intersection(flood))
            answer = get(base, f"/parcels/{feature['id']}/constraints")
            assert near(answer["area_m2"], m2(geom))
            [layer] = [c for c in answer["constraints"] if c["layer"] == FLOOD]
            assert near(layer["overlap_m2"], expected), (feature["id"], layer["overlap_m2"], expected)
            assert abs(layer["share"] - expected / m2(geom)) < 1e-5
            assert [f["code"] for f in layer["features"]] == [code]
            kinds["wholly" if flood.covers(geom) else "partly"] += 1
            if flood.covers(geom):
                assert layer["share"] == 1.0
    assert kinds["partly"] >= 3 * 10 and kinds["wholly"] >= 3 * 2, kinds


def search(base: str, zone: str, **params) -> set[int]:
    """The ids site search finds among the zone's available parcels."""
    return {f["id"] for f in features(base, "/parcels/search", zone=zone, **params)}


async def test_site_search_by_the_demo_layers(demo):
    base, _ = demo
    floods = unary_union([g for _, g in layer_shapes(base, FLOOD).values()])
    plan = layer_shapes(base, PLAN)
    industry = unary_union([g for p, g in plan.values() if "industry" in p["allowed_uses"]])
    wholly_flooded = 0
    for zone in ZONES:
        available = {
            f["id"]: shape(f["geometry"])
            for f in features(base, f"/zones/{zone}/parcels", land_status="available")
        }

        clear = {i for i, g in available.items() if m2(g.intersection(floods)) / m2(g) <= 0.05}
        assert search(base, zone, exclude=FLOOD, exclude_tolerance=0.05) == clear
        assert len(clear) < len(available)
        inside = {i for i, g in available.items() if floods.covers(g)}
        assert search(base, zone, require=FLOOD) == inside
        wholly_flooded += len(inside)
        conforming = {i for i, g in available.items() if industry.covers(g)}
        assert search(base, zone, conforms_to_plan="industry") == conforming
        assert 0 < len(conforming) < len(available)
        both = search(base, zone, exclude=FLOOD, exclude_tolerance=0.05, conforms_to_plan="industry")
        assert both == clear & conforming
    assert wholly_flooded > 0


async def test_the_zone_summary_counts_the_flooded_ground(demo):
    base, _ = demo
    floods = layer_shapes(base, FLOOD)
    for zone in ZONES:
        outline = zone_shape(base, zone)
        flood = floods[f"DEMO-FLOOD-{zone.upper()}"][1].intersection(outline)
        summary = get(base, f"/zones/{zone}/summary")
        [layer] = summary["constraints"]  # the spatial plan allows uses: it constrains nothing
        assert layer["layer"] == FLOOD and near(layer["area_ha"] * 10_000, m2(flood))
        available = [
            shape(f["geometry"]) for f in features(base, f"/zones/{zone}/parcels", land_status="available")
        ]
        flooded = sum(m2(g.intersection(flood)) for g in available)
        assert near(layer["available_area_ha"] * 10_000, flooded) and flooded > 0
        assert near(
            summary["unconstrained_available_area_ha"] * 10_000, sum(m2(g) for g in available) - flooded
        )
        assert summary["straddling"]["count"] == 3


# What the demo data is made of, each as one digest (and how many changes history holds).
STATE = {
    "parcels": "SELECT md5(string_agg(concat_ws('|', id, code, land_status, attributes, ST_AsEWKB(geom), "
    "updated_at), ';' ORDER BY id)) FROM parcel",
    "overlaps allowed": "SELECT md5(string_agg(concat_ws('|', parcel_id, other_id, reason), ';' "
    "ORDER BY parcel_id, other_id)) FROM parcel_overlap_allowed",
    "layers": "SELECT md5(string_agg(concat_ws('|', name, title, source, licence, description, "
    "updated_at), ';' ORDER BY id)) FROM constraint_layer",
    "areas": "SELECT md5(string_agg(concat_ws('|', layer_id, code, name, allowed_uses, ST_AsEWKB(geom), "
    "updated_at), ';' ORDER BY id)) FROM constraint_feature",
    "projects' parcels": "SELECT md5(string_agg(concat_ws('|', project_id, parcel_id), ';' "
    "ORDER BY project_id, parcel_id)) FROM project_parcel",
    "changes": "SELECT count(*) FROM change",
}


async def test_running_it_again_changes_nothing(demo):
    _, url = demo
    conn = await asyncpg.connect(dsn(url))
    try:
        before = {name: await conn.fetchval(sql) for name, sql in STATE.items()}
        again = run_cli("app.cli", "demo-parcels", "--cell-m", str(CELL_M), database_url=url).stdout
        assert {name: await conn.fetchval(sql) for name, sql in STATE.items()} == before
    finally:
        await conn.close()
    assert again.strip() == (
        f"demo parcels: 0 added (cells of {CELL_M} m); illustrative: 0 across a zone's edge, "
        "0 overlapping 0 others; demo layers: 0 made, 0 areas added; 0 given to projects"
    )
