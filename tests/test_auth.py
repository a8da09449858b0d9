"""Writes need a key (an editor's, or one from API_KEYS, which act as admins); reads are open.
Roles, revocation and reads behind a key: tests/test_keys.py."""

import pytest

from tests.conftest import AUTH, scalar
from tests.geo import ORIGIN, parcel, rectangle

RING = rectangle(*ORIGIN, 100, 100)
FEATURE = parcel(RING, "AUTH-1")
WRITES = [
    ("POST", "/parcels"),
    ("PATCH", "/parcels/1"),
    ("DELETE", "/parcels/1"),
    ("POST", "/zones"),
    ("PATCH", "/zones/x"),
    ("DELETE", "/zones/x"),
    ("POST", "/facilities"),
    ("PATCH", "/facilities/x"),
    ("DELETE", "/facilities/x"),
    ("POST", "/projects"),
    ("PATCH", "/projects/1"),
    ("DELETE", "/projects/1"),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "Bearer "},
        {"Authorization": "test-key-1"},
    ],
    ids=["missing", "wrong key", "basic scheme", "empty bearer", "no scheme"],
)
@pytest.mark.parametrize("method,path", WRITES)
async def test_writes_without_a_valid_key_are_401(client, session, method, path, headers):
    response = await client.request(method, path, json=FEATURE, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "/problems/unauthorized"
    assert await scalar(session, "SELECT count(*) FROM parcel") == 0


async def test_any_configured_key_may_write(client):
    assert (await client.post("/parcels", json=FEATURE, headers=AUTH)).status_code == 201
    other = parcel(rectangle(ORIGIN[0] + 0.01, ORIGIN[1], 100, 100), "AUTH-2")
    assert (
        await client.post("/parcels", json=other, headers={"Authorization": "Bearer second-key"})
    ).status_code == 201


@pytest.mark.parametrize(
    "path", ["/", "/health", "/zones", "/parcels", "/facilities", "/projects", "/ogc", "/openapi.json"]
)
async def test_reads_are_open(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert "Authorization" in response.headers["vary"]  # answers differ by key: caches must know


async def test_openapi_documents_the_key_and_its_refusals(client):
    document = (await client.get("/openapi.json")).json()
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    delete_zone = document["paths"]["/zones/{code}"]["delete"]["responses"]
    assert {"401", "403"} <= set(delete_zone)
