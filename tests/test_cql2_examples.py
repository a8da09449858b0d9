"""The CQL2 standard's own examples (tests/data/cql2-examples, copied unchanged from the OGC's
repository), each run in cql2-text and cql2-json against the parcels collection, with the
example's property names mapped to our queryables, and each answer checked against a predicate
written here in Python (shapely for geometry) on the same features.

An example that needs a conformance class the service does not declare (functions, arithmetic,
temporal, array, case- and accent-insensitive comparison) must be refused with a 400 problem.
Every example in the directory must have an entry below: a new example fails the test until it
is given one.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from shapely import wkt
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from tests.conftest import prepared_database, serve
from tests.test_bad_input import assert_problem
from tests.test_migrations import dsn

EXAMPLES = Path(__file__).parent / "data" / "cql2-examples"
ITEMS = "/ogc/collections/parcels/items"

# Values given to the demo parcels so that the examples' literals select some and not others.
HOLDERS = [None, "Mike Jones", "mike smith", "Smith & Sons", "John Smith", "Toronto", "foobar", "Foo Bar"]
HOLDERS += ["OLI Kaltim", "Beyoncé", "PT Jones Mike"]
PRICES = [None, 0.1, 0.2, 1, 3, 5, 10, 12.5, 20, 22, 120, 150, 500, 950000]

Answer = Callable[[dict, BaseGeometry], bool]


@dataclass(frozen=True)
class Case:
    names: dict[str, str] = field(default_factory=dict)  # the example's property names -> ours
    answer: Answer | None = None  # which parcels it selects; None: it must be refused
    refused: str = ""  # why it is refused (not declared, or our rule that refuses it)


def like(value: str | None, pattern: str) -> bool:
    """SQL LIKE, case-sensitive, % and _ as wildcards."""
    if value is None:
        return False
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def cmp(name: str, test: Callable[[float | str], bool]) -> Answer:
    """A comparison with a property: unknown (so not selected) where the property is null."""
    return lambda p, g: p[name] is not None and test(p[name])


def nothing(p: dict, g: BaseGeometry) -> bool:
    return False


def everything(p: dict, g: BaseGeometry) -> bool:
    return True


def literal(text: str) -> BaseGeometry:
    return wkt.loads(text)


HOLDER = {"city": "holder", "cityName": "holder", "name": "holder", "owner": "holder"}
VALUE = {"value": "price_idr_per_m2"}
FLOORS = {"floors": "area_ha"}
LANDSAT = {
    "eo:cloud_cover": "price_idr_per_m2",
    "landsat:wrs_row": "area_ha",
    "landsat:wrs_path": "price_idr_per_m2",
    "landsat:scene_id": "code",
    "eo:instrument": "holder",
}
GEOMETRY = {"footprint": "geometry", "location": "geometry", "road": "geometry"}
HOLDER_LIKE = {"owner": "holder", "floors": "area_ha", "material": "land_use"}

TORONTO_LINE = (
    "LINESTRING(43.72992 -79.2998, 43.73005 -79.2991, 43.73006 -79.2984, 43.73140 -79.2956, "
    "43.73259 -79.2950, 43.73266 -79.2945, 43.73320 -79.2936, 43.73378 -79.2936, 43.73486 -79.2917)"
)
TORONTO_POLYGON = (
    "POLYGON((43.7286 -79.2986, 43.7311 -79.2996, 43.7323 -79.2972, 43.7326 -79.2971, "
    "43.7350 -79.2981, 43.7350 -79.2982, 43.7352 -79.2982, 43.7357 -79.2956, 43.7337 -79.2948, "
    "43.7343 -79.2933, 43.7339 -79.2923, 43.7327 -79.2947, 43.7320 -79.2942, 43.7322 -79.2937, "
    "43.7306 -79.2930, 43.7303 -79.2930, 43.7299 -79.2928, 43.7286 -79.2986))"
)
EXAMPLE47 = literal(
    "MULTIPOLYGON (((144.022387 45.176126, -1.1 0.0, 180.0 47.808086, 144.022387 45.176126)))"
)
EXAMPLE48 = literal(
    "MULTILINESTRING ((-1.9 -0.99999, 75.292574 1.5, -0.5 -4.016458, -31.708594 -74.743801, "
    "179.0 -90.0),(-1.9 -1.1, 1.5 8.547371))"
)
EXAMPLE51 = literal(
    "LINESTRING (172.03086 1.5, 1.1 -90.0, -159.757695 0.99999, -180.0 0.5, -12.111235 81.336403, "
    "-0.5 64.43958, 0.0 81.991815, -155.93831 90.0)"
)

NOT_DECLARED = {  # the classes not declared, as the refusal names them
    "functions": "functions (",
    "arithmetic": "arithmetic is not supported",
    "temporal": "temporal",
    "array": "array functions",
    "casei": "CASEI",
    "accenti": "ACCENTI",
}

CASES: dict[str, Case] = {
    "clause6_01": Case(refused="functions"),  # avg(windSpeed): a function, and not a predicate
    "clause6_02a": Case(HOLDER, cmp("holder", lambda v: v == "Toronto")),
    "clause6_02b": Case(refused="functions"),
    "clause6_02c": Case(refused="arithmetic"),
    "clause6_02d": Case(
        {"updated": "updated_at"},
        cmp("updated_at", lambda v: datetime.fromisoformat(v) >= datetime(1970, 1, 1, tzinfo=UTC)),
    ),
    "clause6_03": Case(answer=everything),
    "clause7_01": Case(HOLDER, lambda p, g: like(p["holder"], "Smith%")),
    "clause7_02": Case({"depth": "price_idr_per_m2"}, cmp("price_idr_per_m2", lambda v: 100 <= v <= 150)),
    "clause7_03a": Case(HOLDER, cmp("holder", lambda v: v in ("Toronto", "Frankfurt", "Tokyo", "New York"))),
    "clause7_03b": Case(
        {"category": "price_idr_per_m2"}, cmp("price_idr_per_m2", lambda v: v not in (1, 2, 3, 4))
    ),
    "clause7_04": Case(refused="casei"),
    "clause7_05": Case(refused="accenti"),
    "clause7_07": Case(answer=lambda p, g: g.intersects(literal("POINT(36.319836 32.288087)"))),
    "clause7_10": Case(GEOMETRY, lambda p, g: g.crosses(literal(TORONTO_POLYGON))),
    "clause7_12": Case(refused="temporal"),
    "clause7_13": Case(refused="temporal"),
    "clause7_15": Case(refused="array"),
    "clause7_16": Case(answer=lambda p, g: literal(TORONTO_LINE).crosses(literal(TORONTO_POLYGON))),
    "clause7_17": Case(refused="temporal"),
    "clause7_18": Case(refused="functions"),
    "clause7_19": Case(refused="arithmetic"),
    "example01": Case(LANDSAT, cmp("code", lambda v: v == "LC82030282019133LGN00")),
    "example02": Case(LANDSAT, lambda p, g: like(p["holder"], "OLI%")),
    "example03": Case({"landsat:wrs_path": "code"}, cmp("code", lambda v: v in ("153", "154", "15X"))),
    "example04": Case(
        LANDSAT,
        lambda p, g: (
            p["price_idr_per_m2"] is not None
            and p["price_idr_per_m2"] < 0.1
            and p["area_ha"] == 28
            and p["price_idr_per_m2"] == 203
        ),
    ),
    "example05a": Case(LANDSAT, cmp("price_idr_per_m2", lambda v: v in (0.1, 0.2))),
    "example05b": Case(LANDSAT, cmp("price_idr_per_m2", lambda v: v in (0.1, 0.2))),
    "example06a": Case(LANDSAT, nothing),  # cloud cover (price) 0.1..0.2 and wrs_path (price) 203
    "example06b": Case(LANDSAT, nothing),
    "example07": Case(
        {**LANDSAT, **GEOMETRY},
        lambda p, g: (
            like(p["holder"], "OLI%")
            and g.intersects(
                literal(
                    "POLYGON((43.5845 -79.5442, 43.6079 -79.4893, 43.5677 -79.4632, 43.5773 -79.4405, "
                    "43.6058 -79.4308, 43.6069 -79.4306, 43.5948 -79.5442, 43.5845 -79.5442))"
                )
            )
        ),
    ),
    "example08": Case(
        {"beamMode": "holder", "swathDirection": "land_use", "polarization": "sector", **GEOMETRY}, nothing
    ),
    "example09": Case(FLOORS, cmp("area_ha", lambda v: v > 5)),
    "example10": Case({"taxes": "price_idr_per_m2"}, cmp("price_idr_per_m2", lambda v: v <= 500)),
    "example11": Case(HOLDER, lambda p, g: like(p["holder"], "%Jones%")),
    "example12": Case(HOLDER, lambda p, g: like(p["holder"], "Mike%")),
    "example13": Case(HOLDER, lambda p, g: p["holder"] is not None and not like(p["holder"], "%Mike%")),
    # Examples 14 to 18 compare a boolean property (swimming_pool); parcels have none.
    "example14": Case(HOLDER_LIKE, refused="swimming_pool"),
    "example15": Case(HOLDER_LIKE, refused="swimming_pool"),
    "example16": Case(HOLDER_LIKE, refused="swimming_pool"),
    "example17": Case(HOLDER_LIKE, refused="swimming_pool"),
    "example18": Case(HOLDER_LIKE, refused="swimming_pool"),
    "example19": Case(
        HOLDER_LIKE,
        lambda p, g: (like(p["holder"], "mike%") or like(p["holder"], "Mike%")) and p["area_ha"] < 4,
    ),
    "example20": Case(refused="temporal"),
    "example21": Case(refused="temporal"),
    "example22": Case(refused="temporal"),
    "example23": Case(GEOMETRY, lambda p, g: g.within(box(-118, 33.8, -117.9, 34))),
    "example24": Case(answer=lambda p, g: g.intersects(literal("POLYGON((-10 -10,10 -10,10 10,-10 -10))"))),
    "example25": Case(FLOORS, lambda p, g: p["area_ha"] > 5 and g.within(box(-118, 33.8, -117.9, 34))),
    "example26": Case(refused="casei"),
    "example27": Case(refused="accenti"),
    "example28": Case(refused="casei"),
    "example29": Case({"id": "code"}, cmp("code", lambda v: v == "fa7e1920-9107-422d-a3db-c468cbc5d6df")),
    "example30": Case({"id": "code"}, cmp("code", lambda v: v != "fa7e1920-9107-422d-a3db-c468cbc5d6df")),
    "example31": Case(VALUE, cmp("price_idr_per_m2", lambda v: v < 10)),
    "example32": Case(VALUE, cmp("price_idr_per_m2", lambda v: v > 10)),
    "example33": Case(VALUE, cmp("price_idr_per_m2", lambda v: v <= 10)),
    "example34": Case(VALUE, cmp("price_idr_per_m2", lambda v: v >= 10)),
    "example35": Case(HOLDER, lambda p, g: like(p["holder"], "foo%")),
    "example36": Case(HOLDER, lambda p, g: p["holder"] is not None and not like(p["holder"], "foo%")),
    "example36-alt01": Case(HOLDER, lambda p, g: p["holder"] is not None and not like(p["holder"], "foo%")),
    "example37": Case(VALUE, cmp("price_idr_per_m2", lambda v: 10 <= v <= 20)),
    "example38": Case(VALUE, cmp("price_idr_per_m2", lambda v: not 10 <= v <= 20)),
    "example38-alt01": Case(VALUE, cmp("price_idr_per_m2", lambda v: not 10 <= v <= 20)),
    "example39": Case(VALUE, cmp("price_idr_per_m2", lambda v: v in (1.0, 2.0, 3.0))),
    "example40": Case({"value": "holder"}, cmp("holder", lambda v: v not in ("a", "b", "c"))),
    "example40-alt01": Case({"value": "holder"}, cmp("holder", lambda v: v not in ("a", "b", "c"))),
    "example41": Case(VALUE, lambda p, g: p["price_idr_per_m2"] is None),
    "example42": Case(VALUE, lambda p, g: p["price_idr_per_m2"] is not None),
    "example42-alt01": Case(VALUE, lambda p, g: p["price_idr_per_m2"] is not None),
    **{
        name: Case(
            {**HOLDER, **VALUE},
            lambda p, g: (
                p["holder"] is not None
                and not like(p["holder"], "foo%")
                and p["price_idr_per_m2"] is not None
                and p["price_idr_per_m2"] > 10
            ),
        )
        for name in ("example43", "example43-alt01")
    },
    **{
        name: Case(VALUE, lambda p, g: p["price_idr_per_m2"] is None or 10 <= p["price_idr_per_m2"] <= 20)
        for name in ("example44", "example44-alt01")
    },
    "example45": Case(answer=lambda p, g: g.intersects(box(-128.098193, -1.1, 180.0, 90.0))),
    # A self-intersecting ring: geometry literals must be valid (see the README).
    "example46": Case(refused="invalid"),
    "example46-alt01": Case(refused="invalid"),
    "example47": Case(answer=lambda p, g: g.disjoint(EXAMPLE47)),
    "example48": Case(answer=lambda p, g: g.touches(EXAMPLE48)),
    "example49": Case(refused="invalid"),  # its inner ring crosses the outer one
    "example49-alt01": Case(refused="invalid"),
    "example50": Case(answer=lambda p, g: g.overlaps(box(-179.912109, 1.9, 180.0, 16.897016))),
    "example51": Case(answer=lambda p, g: g.crosses(EXAMPLE51)),
    "example52": Case(answer=lambda p, g: g.contains(literal("POINT (-3.508362 -1.754181)"))),
    **{f"example{n}": Case(refused="temporal") for n in range(53, 68)},
    "example54-alt01": Case(refused="temporal"),
    "example55-alt01": Case(refused="temporal"),
    "example68": Case(refused="functions"),
    "example69": Case(refused="functions"),
    "example70": Case(refused="accenti"),
    "example71": Case(refused="casei"),
    **{f"example{n}": Case(refused="arithmetic") for n in range(72, 79)},
    **{f"example{n}": Case(refused="array") for n in range(79, 83)},
    "example83": Case(
        answer=lambda p, g: g.equals(
            literal(
                "MULTIPOINT ((180.0 -0.5), (179.0 -47.121701), (180.0 -0.0), (33.470475 -0.99999), "
                "(179.0 -15.333062))"
            )
        )
    ),
    "example84": Case(answer=nothing),  # S_EQUALS with a collection of points and lines
    "example85": Case(refused="arithmetic"),
    "example85-alt01": Case(refused="arithmetic"),
    "example86": Case(refused="casei"),
}


def rename_text(expression: str, names: dict[str, str]) -> str:
    """Rename properties outside the string literals, bare or double-quoted."""
    parts = re.split(r"('(?:[^']|'')*')", expression)
    for i in range(0, len(parts), 2):
        for old, new in names.items():
            parts[i] = re.sub(rf'(?<![\w:"]){re.escape(old)}(?![\w:"])', new, parts[i])
            parts[i] = parts[i].replace(f'"{old}"', f'"{new}"')
    return "".join(parts)


def rename_json(node, names: dict[str, str]):
    if isinstance(node, dict):
        if set(node) == {"property"}:
            return {"property": names.get(node["property"], node["property"])}
        return {key: rename_json(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [rename_json(value, names) for value in node]
    return node


def examples() -> list[tuple[str, str, str]]:
    """(name, filter-lang, the file's text) for every example in both encodings."""
    found = [(p.stem, "cql2-text", p) for p in sorted((EXAMPLES / "text").glob("*.txt"))]
    found += [(p.stem, "cql2-json", p) for p in sorted((EXAMPLES / "json").glob("*.json"))]
    return [(name, lang, path.read_text(encoding="utf-8")) for name, lang, path in found]


def test_every_example_has_an_expectation():
    names = {name for name, _, _ in examples()}
    assert len(names) > 100
    assert names == set(CASES), (sorted(names - set(CASES)), sorted(set(CASES) - names))


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_cql2_examples", cell_m=400)
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(
            "UPDATE parcel SET holder = ($1::text[])[1 + id % $3], "
            "price_idr_per_m2 = ($2::numeric[])[1 + id % $4], "
            "updated_at = created_at + id * interval '1 minute'",
            HOLDERS,
            PRICES,
            len(HOLDERS),
            len(PRICES),
        )
    finally:
        await conn.close()
    with serve(url, expose_holder="true") as base:
        features = httpx.get(base + ITEMS, params={"limit": 10000}, timeout=30).json()["features"]
        yield base, [(f["id"], f["properties"], shape(f["geometry"])) for f in features]


@pytest.mark.parametrize("name,lang,source", examples(), ids=[f"{n}-{lang}" for n, lang, _ in examples()])
async def test_the_standard_example(server, name, lang, source):
    base, parcels = server
    case = CASES[name]
    if lang == "cql2-text":
        expression = rename_text(source, case.names)
    else:
        expression = json.dumps(rename_json(json.loads(source), case.names))
    response = httpx.get(
        base + ITEMS, params={"filter": expression, "filter-lang": lang, "limit": 10000}, timeout=60
    )
    if case.answer is None:
        problem = assert_problem(response, 400)
        assert NOT_DECLARED.get(case.refused, case.refused).lower() in problem["detail"].lower(), problem
        return
    assert response.status_code == 200, (expression, response.text)
    got = [f["id"] for f in response.json()["features"]]
    expected = [pid for pid, properties, geometry in parcels if case.answer(properties, geometry)]
    assert got == expected, expression


async def test_dates_and_decimals_compare_as_written(server):
    """A TIMESTAMP literal against the time a parcel was last changed, and a decimal literal
    against a numeric column, in CQL2 and as queryable query parameters."""
    base, parcels = server
    moments = sorted({p["updated_at"] for _, p, _ in parcels})
    cut = moments[len(moments) // 2].replace("+00:00", "Z")
    for params in (
        {"filter": f"updated_at < TIMESTAMP('{cut}')"},
        {"filter": json.dumps({"op": "<", "args": [{"property": "updated_at"}, {"timestamp": cut}]})},
    ):
        lang = "cql2-json" if params["filter"].startswith("{") else "cql2-text"
        got = httpx.get(base + ITEMS, params={**params, "filter-lang": lang, "limit": 10000}).json()
        expected = [
            pid
            for pid, p, _ in parcels
            if datetime.fromisoformat(p["updated_at"]) < datetime.fromisoformat(cut)
        ]
        assert [f["id"] for f in got["features"]] == expected and 0 < len(expected) < len(parcels), params
    for name, value, test in (
        ("price_idr_per_m2", "0.1", lambda p: p["price_idr_per_m2"] == 0.1),
        ("updated_at", cut, lambda p: datetime.fromisoformat(p["updated_at"]) == datetime.fromisoformat(cut)),
        ("holder", "Toronto", lambda p: p["holder"] == "Toronto"),
    ):
        got = httpx.get(base + ITEMS, params={name: value, "limit": 10000}).json()
        expected = [pid for pid, p, _ in parcels if test(p)]
        assert [f["id"] for f in got["features"]] == expected and expected, name
    for name, value in (("price_idr_per_m2", "abc"), ("area_ha", "NaN"), ("updated_at", "yesterday")):
        response = httpx.get(base + ITEMS, params={name: value})
        assert name in assert_problem(response, 400)["detail"]


@pytest.mark.parametrize(
    "expression,answer",
    [
        ("area_ha > -5", lambda p: p["area_ha"] > -5),
        ("area_ha >= 1e-5 AND area_ha < 1E+1", lambda p: 1e-5 <= p["area_ha"] < 10),
        ("holder LIKE '%a+b*c/d^e-f%' OR holder = 'Toronto'", lambda p: p["holder"] == "Toronto"),
        (
            "price_idr_per_m2 IN (0.1, 12.5) AND date('2000-01-01') < updated_at",
            lambda p: p["price_idr_per_m2"] in (0.1, 12.5),
        ),
    ],
)
async def test_signs_exponents_and_strings_are_not_taken_for_arithmetic(server, expression, answer):
    base, parcels = server
    response = httpx.get(base + ITEMS, params={"filter": expression, "limit": 10000})
    assert response.status_code == 200, response.text
    expected = [pid for pid, p, _ in parcels if answer(p)]
    assert [f["id"] for f in response.json()["features"]] == expected and expected
