"""Constraint layers over real HTTP: made by an admin, filled by an import job, served natively,
as an OGC collection and as tiles with no change of code; and the questions they answer (a
parcel's constraints, site search's exclude / require / conforms_to_plan, the zone summary),
checked against shapely and pyproj.Geod on the same shapes."""

import json
import math
from pathlib import Path

import httpx
import pytest
from shapely.geometry import Polygon, shape
from shapely.ops import unary_union

from tests.conftest import run_cli, serve
from tests.geo import GEOD, move, rectangle
from tests.test_bad_input import assert_problem
from tests.test_imports import AUTH, finished, post

HERE = (116.735, -1.125)
MAPPING = {
    "KODE": "code",
    "NAMA": "name",
    "USES": "allowed_uses",
}  # open ground in Penajam Paser Utara, away from the seeded zones


def geodesic_m2(geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0])


def square(origin, east_m: float, north_m: float) -> Polygon:
    return Polygon(rectangle(*origin, east_m, north_m))


# Two parcels 1 km apart; a forest over the east half of the first; a spatial plan allowing
# industry over the second and agriculture over the first.
P1 = square(HERE, 200, 200)
P2 = square(move(*HERE, 90, 1000), 200, 200)
FOREST = square(move(*move(*HERE, 90, 100), 180, 50), 300, 400)
PLAN_INDUSTRY = square(move(*move(*HERE, 90, 900), 180, 100), 400, 400)
PLAN_FARMS = square(move(*move(*HERE, 270, 100), 180, 100), 400, 400)
ZONE = square(move(*move(*HERE, 270, 50), 180, 50), 1300, 300)


def feature_collection(features: list[tuple[dict, Polygon]]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": json.loads(json.dumps(g.__geo_interface__))}
            for props, g in features
        ],
    }


def geojson(polygon: Polygon) -> dict:
    return {"type": "Polygon", "coordinates": [list(map(list, polygon.exterior.coords))]}


@pytest.fixture(scope="module")
async def server(fresh_database, tmp_path_factory):
    url = await fresh_database("kaltim_layers")
    run_cli("alembic", "upgrade", "head", database_url=url)
    run_cli("app.cli", "seed", database_url=url)
    tmp = tmp_path_factory.mktemp("layers")
    with serve(url) as base:
        for name, kind, areas in [
            ("hutan-lindung", "protected_forest", [({"KODE": "HL-1", "NAMA": "Hutan lindung"}, FOREST)]),
            (
                "rtrw",
                "spatial_plan",
                [
                    ({"KODE": "K-IND", "NAMA": "Kawasan industri", "USES": "industry, port"}, PLAN_INDUSTRY),
                    ({"KODE": "K-TAN", "NAMA": "Pertanian", "USES": "agriculture"}, PLAN_FARMS),
                ],
            ),
        ]:
            created = httpx.post(
                f"{base}/layers",
                json={"name": name, "title": name.title(), "kind": kind, "source": "test", "licence": "CC0"},
                headers=AUTH,
            )
            assert created.status_code == 201, created.text
            path = Path(tmp) / f"{name}.geojson"
            path.write_text(json.dumps(feature_collection(areas)))
            job = finished(
                base,
                post(base, path, layer=name, mapping={k: MAPPING[k] for k in areas[0][0]}),
            )
            assert job["state"] == "succeeded", job
        ids = {}
        for code, polygon in [("L-P1", P1), ("L-P2", P2)]:
            body = {
                "type": "Feature",
                "geometry": geojson(polygon),
                "properties": {"code": code, "land_status": "available"},
            }
            response = httpx.post(f"{base}/parcels", json=body, headers=AUTH)
            assert response.status_code == 201, response.text
            ids[code] = response.json()["id"]
        zone = {
            "type": "Feature",
            "geometry": geojson(ZONE),
            "properties": {
                "code": "layer-test",
                "name": "Layer test",
                "kind": "industrial_estate",
                "status": "planned",
            },
        }
        assert httpx.post(f"{base}/zones", json=zone, headers=AUTH).status_code == 201
        yield base, ids


def test_layers_are_listed_with_their_areas_and_links(server):
    base, _ = server
    listed = httpx.get(f"{base}/layers").json()["layers"]
    by_name = {layer["name"]: layer for layer in listed}
    assert set(by_name) >= {"hutan-lindung", "rtrw"}
    forest = by_name["hutan-lindung"]
    assert forest["kind"] == "protected_forest" and forest["features"] == 1
    assert forest["area_ha"] == pytest.approx(geodesic_m2(FOREST) / 10_000, rel=1e-4)
    assert {link["rel"] for link in forest["links"]} == {"self", "items", "collection", "tiles"}
    areas = httpx.get(f"{base}/layers/rtrw/features").json()
    uses = {f["properties"]["code"]: f["properties"]["allowed_uses"] for f in areas["features"]}
    assert uses == {"K-IND": ["industry", "port"], "K-TAN": ["agriculture"]}


def test_a_layer_is_an_ogc_collection_and_a_tile_layer_without_code(server):
    base, _ = server
    ids = [c["id"] for c in httpx.get(f"{base}/ogc/collections").json()["collections"]]
    assert "hutan-lindung" in ids and "rtrw" in ids and all("." not in i for i in ids)
    items = httpx.get(f"{base}/ogc/collections/hutan-lindung/items").json()
    assert [f["properties"]["code"] for f in items["features"]] == ["HL-1"]
    assert shape(items["features"][0]["geometry"]).hausdorff_distance(FOREST) < 1e-7  # 8 decimals
    queryables = httpx.get(f"{base}/ogc/collections/hutan-lindung/queryables").json()["properties"]
    assert {"code", "name", "area_ha"} <= set(queryables)
    filtered = httpx.get(f"{base}/ogc/collections/rtrw/items", params={"filter": "code = 'K-IND'"}).json()
    assert [f["properties"]["name"] for f in filtered["features"]] == ["Kawasan industri"]
    tilejson = httpx.get(f"{base}/tiles/hutan-lindung.json").json()
    assert tilejson["vector_layers"][0]["id"] == "hutan-lindung"
    z = 14
    x, y = _tile(FOREST.centroid.x, FOREST.centroid.y, z)
    tile = httpx.get(f"{base}/tiles/hutan-lindung/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200 and len(tile.content) > 50
    assert httpx.get(f"{base}/tiles/hutan-lindung/{z}/{x + 20}/{y}.mvt").status_code == 204
    listed = httpx.get(f"{base}/map/layers.json").json()["layers"]
    assert {"hutan-lindung": "constraint", "regencies": "admin"}.items() <= {
        layer["id"]: layer["group"] for layer in listed
    }.items()


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_a_parcels_constraints_are_its_overlaps_on_the_spheroid(server):
    base, ids = server
    body = httpx.get(f"{base}/parcels/{ids['L-P1']}/constraints").json()
    by_layer = {c["layer"]: c for c in body["constraints"]}
    assert set(by_layer) == {"hutan-lindung", "rtrw"}
    overlap = geodesic_m2(P1.intersection(FOREST))
    assert by_layer["hutan-lindung"]["overlap_m2"] == pytest.approx(overlap, abs=0.5)
    assert by_layer["hutan-lindung"]["share"] == pytest.approx(overlap / geodesic_m2(P1), abs=1e-5)
    assert [f["code"] for f in by_layer["hutan-lindung"]["features"]] == ["HL-1"]
    plan = by_layer["rtrw"]["features"]
    assert [(f["code"], f["allowed_uses"]) for f in plan] == [("K-TAN", ["agriculture"])]
    assert plan[0]["share"] == pytest.approx(1.0, abs=1e-6)
    assert body["area_m2"] == pytest.approx(geodesic_m2(P1), abs=0.5)
    free = httpx.get(f"{base}/parcels/{ids['L-P2']}/constraints").json()["constraints"]
    assert [c["layer"] for c in free] == ["rtrw"]
    assert_problem(httpx.get(f"{base}/parcels/999999999/constraints"), 404)


def _search(base: str, **params) -> httpx.Response:
    return httpx.get(
        f"{base}/parcels/search", params={"near": f"{HERE[0]},{HERE[1]}", "within_m": 3000, **params}
    )


def _codes(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {f["properties"]["code"] for f in response.json()["features"]}


def test_site_search_excludes_requires_and_keeps_to_the_plan(server):
    base, _ = server
    share = geodesic_m2(P1.intersection(FOREST)) / geodesic_m2(P1)
    assert 0.4 < share < 0.6
    assert _codes(_search(base)) == {"L-P1", "L-P2"}
    assert _codes(_search(base, exclude="hutan-lindung")) == {"L-P2"}
    assert _codes(_search(base, exclude="hutan-lindung", exclude_tolerance=round(share + 0.01, 3))) == {
        "L-P1",
        "L-P2",
    }
    assert _codes(_search(base, exclude="hutan-lindung", exclude_tolerance=round(share - 0.01, 3))) == {
        "L-P2"
    }
    assert _codes(_search(base, require="rtrw")) == {"L-P1", "L-P2"}
    assert _codes(_search(base, require="hutan-lindung")) == set()
    assert _codes(_search(base, conforms_to_plan="industry")) == {"L-P2"}
    assert _codes(_search(base, conforms_to_plan="agriculture", exclude="hutan-lindung")) == set()
    results = _search(base).json()["features"]
    carried = {f["properties"]["code"]: [c["layer"] for c in f["properties"]["constraints"]] for f in results}
    assert carried == {"L-P1": ["hutan-lindung", "rtrw"], "L-P2": ["rtrw"]}
    for params, words in [
        ({"exclude": "no-such-layer"}, "no-such-layer"),
        ({"require": "rtrw,nope"}, "nope"),
        ({"conforms_to_plan": "mining"}, "agriculture, industry, port"),
        ({"exclude_tolerance": 2}, "exclude_tolerance"),
    ]:
        body = assert_problem(_search(base, **params), 422)
        assert words in json.dumps(body), body


def test_zone_summary_gives_constrained_and_unconstrained_areas(server):
    base, _ = server
    summary = httpx.get(f"{base}/zones/layer-test/summary").json()
    by_layer = {c["layer"]: c for c in summary["constraints"]}
    assert set(by_layer) == {"hutan-lindung"}  # the spatial plan allows uses; it constrains nothing
    forest = by_layer["hutan-lindung"]
    assert forest["area_ha"] == pytest.approx(geodesic_m2(ZONE.intersection(FOREST)) / 1e4, abs=1e-4)
    on_parcels = geodesic_m2(unary_union([P1, P2]).intersection(FOREST)) / 1e4
    assert forest["available_area_ha"] == pytest.approx(on_parcels, abs=1e-4)
    available = (geodesic_m2(P1) + geodesic_m2(P2)) / 1e4
    assert summary["available_area_ha"] == pytest.approx(available, abs=1e-4)
    assert summary["unconstrained_available_area_ha"] == pytest.approx(available - on_parcels, abs=1e-4)


def test_layer_writes_need_an_admin_and_bad_layers_are_refused(server, tmp_path):
    base, _ = server
    good = {"name": "gambut", "title": "Peat", "kind": "peatland", "source": "test", "licence": "CC0"}
    assert_problem(httpx.post(f"{base}/layers", json=good), 401)
    for bad, status in [
        ({**good, "name": "gambut.kedalaman"}, 422),  # dots: QGIS cannot load such collections
        ({**good, "name": "parcels"}, 422),
        ({**good, "name": "Gambut"}, 422),
        ({**good, "kind": "volcano"}, 422),
        ({**good, "colour": "brown"}, 422),
        ({k: v for k, v in good.items() if k != "licence"}, 422),
        ({**good, "name": "hutan-lindung"}, 409),
    ]:
        assert_problem(httpx.post(f"{base}/layers", json=bad, headers=AUTH), status)
    assert_problem(httpx.get(f"{base}/layers/nope"), 404)
    assert_problem(httpx.get(f"{base}/layers/nope/features"), 404)
    assert_problem(httpx.get(f"{base}/ogc/collections/nope/items"), 404)
    assert_problem(httpx.get(f"{base}/tiles/nope.json"), 404)
    assert_problem(httpx.patch(f"{base}/layers/rtrw", json={"title": None}, headers=AUTH), 422)
    # an import into a layer that does not exist names the layers there are
    path = tmp_path / "x.geojson"
    path.write_text(json.dumps(feature_collection([({"code": "X"}, FOREST)])))
    body = assert_problem(post(base, path, layer="no-such-layer"), 422)
    assert "GET /layers" in body["detail"]
    # made, renamed in words, and deleted with its areas
    assert httpx.post(f"{base}/layers", json=good, headers=AUTH).status_code == 201
    patched = httpx.patch(f"{base}/layers/gambut", json={"title": "Peat domes"}, headers=AUTH).json()
    assert patched["title"] == "Peat domes" and patched["kind"] == "peatland"
    assert httpx.delete(f"{base}/layers/gambut", headers=AUTH).status_code == 204
    assert_problem(httpx.get(f"{base}/ogc/collections/gambut"), 404)
