"""Optimistic concurrency: strong ETags on single resources, If-Match on PATCH and DELETE."""

import hashlib

import pytest

from tests.conftest import AUTH, scalar
from tests.geo import ORIGIN, move, parcel, rectangle, zone
from tests.test_bad_input import assert_problem
from tests.test_projects import project, setup


def digest(body: bytes) -> str:
    """The strong ETag of a body, computed here as the service documents it."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def created(client, path: str, body: dict) -> tuple[str, str]:
    """POST `body`; the new resource's path and the ETag the POST answered with."""
    response = await client.post(path, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.headers["location"], response.headers["etag"]


def resources():
    ring = rectangle(*move(*ORIGIN, 45, 5000), 100, 100)
    return {
        "parcel": ("/parcels", parcel(ring, "V-1"), {"properties": {"holder": "PT Dua"}}),
        "zone": ("/zones", zone(rectangle(*ORIGIN, 500, 500), "v-zone"), {"properties": {"name": "Renamed"}}),
        "facility": (
            "/facilities",
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": list(ORIGIN)},
                "properties": {"code": "v-port", "name": "Port", "kind": "port"},
            },
            {"properties": {"name": "Renamed port"}},
        ),
    }


@pytest.mark.parametrize("kind", ["parcel", "zone", "facility"])
async def test_strong_etag_and_if_match(client, kind):
    path, body, change = resources()[kind]
    # Read with a key, as writers do: the parcel's holder is in the version they must name.
    location, posted_tag = await created(client, path, body)
    read = await client.get(location, headers=AUTH)
    tag = read.headers["etag"]
    assert tag == digest(read.content) == posted_tag and not tag.startswith("W/")

    # A stale, a weak and an unknown tag all get 412, and nothing changes.
    for stale in ('"0123"', f"W/{tag}", '"a", "b"'):
        refused = await client.patch(location, json=change, headers={**AUTH, "If-Match": stale})
        problem = assert_problem(refused, 412, "precondition-failed")
        assert problem["current_etag"] == tag
    assert (await client.get(location, headers=AUTH)).content == read.content

    changed = await client.patch(location, json=change, headers={**AUTH, "If-Match": f'"other", {tag}'})
    assert changed.status_code == 200, changed.text
    now = await client.get(location, headers=AUTH)
    assert changed.headers["etag"] == now.headers["etag"] == digest(now.content) != tag

    # The old tag is stale now: a client that read before the change cannot overwrite it.
    assert_problem(await client.patch(location, json=change, headers={**AUTH, "If-Match": tag}), 412)
    assert_problem(await client.delete(location, headers={**AUTH, "If-Match": tag}), 412)
    assert (await client.get(location, headers=AUTH)).status_code == 200
    assert (
        await client.delete(location, headers={**AUTH, "If-Match": now.headers["etag"]})
    ).status_code == 204
    assert_problem(await client.delete(location, headers={**AUTH, "If-Match": "*"}), 404)


async def test_if_match_star_means_if_it_exists(client, session):
    location, _ = await created(client, "/parcels", parcel(rectangle(*ORIGIN, 80, 80), "V-STAR"))
    ok = await client.patch(
        location, json={"properties": {"land_use": "x"}}, headers={**AUTH, "If-Match": "*"}
    )
    assert ok.status_code == 200
    assert_problem(
        await client.patch(
            "/parcels/999999", json={"properties": {"land_use": "x"}}, headers={**AUTH, "If-Match": "*"}
        ),
        404,
    )
    # Without If-Match the write goes ahead as before.
    assert (
        await client.patch(location, json={"properties": {"land_use": "y"}}, headers=AUTH)
    ).status_code == 200
    assert await scalar(session, "SELECT land_use FROM parcel WHERE code = 'V-STAR'") == "y"


async def test_projects_carry_strong_etags_too(client, session):
    ids, _ = await setup(client)
    location, posted_tag = await created(client, "/projects", project(parcel_ids=[ids["A"]]))
    read = await client.get(location)
    assert read.headers["etag"] == digest(read.content) == posted_tag
    stale = await client.patch(location, json={"name": "Other"}, headers={**AUTH, "If-Match": '"stale"'})
    assert_problem(stale, 412, "precondition-failed")
    assert await scalar(session, "SELECT name FROM project WHERE name = 'Other'") is None
    fresh = await client.patch(
        location, json={"name": "Other"}, headers={**AUTH, "If-Match": read.headers["etag"]}
    )
    assert fresh.status_code == 200 and fresh.json()["name"] == "Other"
    assert_problem(await client.delete(location, headers={**AUTH, "If-Match": read.headers["etag"]}), 412)
    assert (
        await client.delete(location, headers={**AUTH, "If-Match": fresh.headers["etag"]})
    ).status_code == 204
