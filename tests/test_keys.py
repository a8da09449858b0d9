"""API keys: made, listed and revoked by the command line; roles; the holder rule; reads behind a key."""

import asyncio
import hashlib

import asyncpg
import pytest

from app import cli
from app.config import Settings
from app.queries import keys
from tests.conftest import API_KEY, AUTH, TEST_DATABASE_URL, app_client, make_settings, run_cli
from tests.geo import ORIGIN, move, parcel, rectangle, zone
from tests.test_migrations import dsn

HOLDER = "Budi Santoso"


async def test_keys_from_the_command_line(fresh_database):
    url = await fresh_database("kaltim_keys")
    run_cli("alembic", "upgrade", "head", database_url=url)
    created = run_cli("app.cli", "keys", "create", "--name", "ana", "--role", "editor", database_url=url)
    key = created.stdout.strip()
    assert key.startswith("klk_") and len(key) > 40 and "shown only this once" in created.stderr

    listed = run_cli("app.cli", "keys", "list", database_url=url).stdout
    lines = listed.splitlines()
    assert lines[0].split() == ["name", "role", "prefix", "created", "revoked"]
    ana = next(line.split() for line in lines if line.startswith("ana "))
    assert ana[1] == "editor" and ana[2] == key[:12] + "..." and ana[4] == "-"
    assert key not in listed and hashlib.sha256(key.encode()).hexdigest() not in listed

    # Only the hash is stored: the key appears nowhere in the table.
    conn = await asyncpg.connect(dsn(url))
    try:
        rows = await conn.fetch("SELECT t::text AS row, key_hash FROM api_key t WHERE name = 'ana'")
    finally:
        await conn.close()
    assert key not in rows[0]["row"] and key[12:] not in rows[0]["row"]
    assert rows[0]["key_hash"] == hashlib.sha256(key.encode()).hexdigest()

    # A name once taken stays taken, even by a revoked key.
    taken = run_cli(
        "app.cli", "keys", "create", "--name", "ana", "--role", "admin", database_url=url, check=False
    )
    assert taken.returncode != 0 and "exists already" in taken.stderr and not taken.stdout.strip()
    assert run_cli("app.cli", "keys", "revoke", "nobody", database_url=url, check=False).returncode != 0

    # The key works over HTTP until it is revoked (no key cache here: at once).
    settings = Settings(database_url=url, api_keys=[], key_cache_seconds=0)
    bearer = {"Authorization": f"Bearer {key}"}
    async with app_client(None, settings) as client:
        made = await client.post("/parcels", json=parcel(rectangle(*ORIGIN, 50, 50), "CLI-1"), headers=bearer)
        assert made.status_code == 201, made.text
        changes = (await client.get(f"/parcels/{made.json()['id']}/history")).json()["changes"]
        assert [c["actor"] for c in changes] == ["ana"]
        revoked = run_cli("app.cli", "keys", "revoke", "ana", database_url=url)
        assert "revoked" in revoked.stdout
        again = await client.post(
            "/parcels", json=parcel(rectangle(*ORIGIN, 50, 50), "CLI-2"), headers=bearer
        )
        assert again.status_code == 401 and again.json()["type"] == "/problems/unauthorized"
    conn = await asyncpg.connect(dsn(url))
    try:
        assert await conn.fetchval("SELECT revoked_at IS NOT NULL FROM api_key WHERE name = 'ana'")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "args",
    [
        ["--name", "cici", "--role", "owner"],
        ["--name", "Bad Name", "--role", "reader"],
        ["--name", "env-key-1", "--role", "admin"],
        ["--role", "reader"],
    ],
)
def test_key_names_and_roles_are_checked(args, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["keys", "create", *args])
    assert exit.value.code == 2 and not capsys.readouterr().out


async def test_roles(client, keyed):
    ring = rectangle(*ORIGIN, 100, 100)
    refused = await client.post("/parcels", json=parcel(ring, "R-1"), headers=keyed["reader"])
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/forbidden" and refused.json()["required_role"] == "editor"
    made = await client.post("/parcels", json=parcel(ring, "R-1"), headers=keyed["editor"])
    assert made.status_code == 201
    path = made.headers["location"]
    assert (await client.get(path, headers=keyed["reader"])).status_code == 200
    patch = {"properties": {"land_status": "reserved"}}
    assert (await client.patch(path, json=patch, headers=keyed["reader"])).status_code == 403
    assert (await client.patch(path, json=patch, headers=keyed["editor"])).status_code == 200
    assert (await client.delete(path, headers=keyed["reader"])).status_code == 403
    assert (await client.delete(path, headers=keyed["editor"])).status_code == 204

    # Zones: editors create and change them; only admins delete them.
    area = rectangle(*move(*ORIGIN, 90, 2000), 500, 500)
    assert (
        await client.post("/zones", json=zone(area, "role-zone"), headers=keyed["reader"])
    ).status_code == 403
    assert (
        await client.post("/zones", json=zone(area, "role-zone"), headers=keyed["editor"])
    ).status_code == 201
    name = {"properties": {"name": "Renamed"}}
    assert (await client.patch("/zones/role-zone", json=name, headers=keyed["editor"])).status_code == 200
    refused = await client.delete("/zones/role-zone", headers=keyed["editor"])
    assert refused.status_code == 403 and refused.json()["required_role"] == "admin"
    assert (await client.delete("/zones/role-zone", headers=keyed["admin"])).status_code == 204
    # API_KEYS keys are admins.
    assert (await client.post("/zones", json=zone(area, "env-zone"), headers=AUTH)).status_code == 201
    assert (await client.delete("/zones/env-zone", headers=AUTH)).status_code == 204


@pytest.mark.parametrize(
    "path", ["/parcels", "/zones", "/ogc/collections/parcels/items", "/tiles/zones/0/0/0.mvt"]
)
async def test_a_key_sent_must_be_valid_even_for_reads(client, path):
    response = await client.get(path, headers={"Authorization": "Bearer klk_not-a-key"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "/problems/unauthorized"


async def test_a_revoked_key_is_refused(client, session, keyed):
    await keys.revoke_key(session, "editor")
    await session.commit()
    response = await client.post(
        "/parcels", json=parcel(rectangle(*ORIGIN, 50, 50), "X-1"), headers=keyed["editor"]
    )
    assert response.status_code == 401
    assert (await client.get("/parcels", headers=keyed["editor"])).status_code == 401


async def test_revocation_takes_effect_once_the_cache_forgets(session, keyed):
    async with app_client(
        session, Settings(**{**make_settings().model_dump(), "key_cache_seconds": 0.5})
    ) as client:
        assert (await client.get("/parcels", headers=keyed["reader"])).status_code == 200
        await keys.revoke_key(session, "reader")
        await session.commit()
        assert (await client.get("/parcels", headers=keyed["reader"])).status_code == 200  # remembered
        await asyncio.sleep(0.6)
        assert (await client.get("/parcels", headers=keyed["reader"])).status_code == 401


async def test_reads_can_require_a_key(session, keyed):
    settings = Settings(database_url=TEST_DATABASE_URL, api_keys=[API_KEY], require_read_key=True)
    async with app_client(session, settings) as client:
        for path in (
            "/parcels",
            "/zones",
            "/facilities",
            "/projects",
            "/ogc/collections",
            "/tiles/zones.json",
        ):
            refused = await client.get(path)
            assert refused.status_code == 401 and refused.json()["type"] == "/problems/unauthorized", path
            assert (await client.get(path, headers=keyed["reader"])).status_code == 200, path
        for path in ("/", "/health", "/openapi.json", "/problems/forbidden"):
            assert (await client.get(path)).status_code == 200, path


async def _holder_everywhere(client, headers: dict) -> list:
    """`holder` of the one parcel as each view renders it."""
    area = rectangle(*move(*ORIGIN, 0, 3000), 400, 400)
    if (await client.get("/zones/holder-zone")).status_code == 404:
        assert (await client.post("/zones", json=zone(area, "holder-zone"), headers=AUTH)).status_code == 201
    single = (await client.get("/parcels", headers=headers)).json()["features"][0]
    pid = single["id"]
    views = [
        (await client.get(f"/parcels/{pid}", headers=headers)).json(),
        single,
        (await client.get("/zones/holder-zone/parcels", headers=headers)).json()["features"][0],
        (await client.get("/parcels/search?land_status=available", headers=headers)).json()["features"][0],
        (await client.get("/ogc/collections/parcels/items", headers=headers)).json()["features"][0],
        (await client.get(f"/ogc/collections/parcels/items/{pid}", headers=headers)).json(),
    ]
    history = (await client.get(f"/parcels/{pid}/history", headers=headers)).json()["changes"]
    return [v["properties"]["holder"] for v in views] + [history[0]["after"]["holder"]]


async def test_holder_is_shown_to_keyed_readers_only(client, keyed):
    inside = rectangle(*move(*ORIGIN, 0, 3100), 100, 100)
    made = await client.post("/parcels", json=parcel(inside, "H-1", holder=HOLDER), headers=keyed["editor"])
    assert made.status_code == 201 and made.json()["properties"]["holder"] == HOLDER
    assert await _holder_everywhere(client, {}) == [None] * 7
    assert await _holder_everywhere(client, keyed["reader"]) == [HOLDER] * 7

    anonymous = await client.get(f"/parcels/{made.json()['id']}")
    assert "Authorization" in anonymous.headers["vary"]
    keyed_answer = await client.get(f"/parcels/{made.json()['id']}", headers=keyed["reader"])
    assert anonymous.headers["etag"] != keyed_answer.headers["etag"]

    # Anonymous callers cannot filter on it either: it is not one of their queryables.
    queryables = (await client.get("/ogc/collections/parcels/queryables")).json()["properties"]
    assert "holder" not in queryables
    items = "/ogc/collections/parcels/items"
    for params in ({"filter": f"holder = '{HOLDER}'"}, {"holder": HOLDER}):
        refused = await client.get(items, params=params)
        assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
        found = await client.get(items, params=params, headers=keyed["reader"])
        assert found.status_code == 200 and found.json()["numberMatched"] == 1
    keyed_queryables = await client.get("/ogc/collections/parcels/queryables", headers=keyed["reader"])
    assert "holder" in keyed_queryables.json()["properties"]


async def test_expose_holder_shows_it_to_everyone(session):
    settings = Settings(database_url=TEST_DATABASE_URL, api_keys=[API_KEY], expose_holder=True)
    async with app_client(session, settings) as client:
        inside = rectangle(*move(*ORIGIN, 0, 3100), 100, 100)
        made = await client.post("/parcels", json=parcel(inside, "H-2", holder=HOLDER), headers=AUTH)
        assert made.status_code == 201
        assert await _holder_everywhere(client, {}) == [HOLDER] * 7
