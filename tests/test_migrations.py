"""The schema, built only by the migrations: indexes, constraints, and a clean way back down."""

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import run_cli


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_upgrade_downgrade_upgrade_on_an_empty_database(fresh_database):
    url = await fresh_database("kaltim_migrations")
    run_cli("alembic", "upgrade", "head", database_url=url)
    conn = await asyncpg.connect(dsn(url))
    try:
        assert await conn.fetchval("SELECT extname FROM pg_extension WHERE extname = 'postgis'") == "postgis"
        gist = {
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist (geom)%'"
            )
        }
        assert gist == {"zone", "parcel", "facility", "admin_area", "constraint_feature"}
        checks = {
            r["conname"] for r in await conn.fetch("SELECT conname FROM pg_constraint WHERE contype = 'c'")
        }
        assert {
            "ck_parcel_geom_valid",
            "ck_parcel_land_status",
            "ck_parcel_land_rights",
            "ck_zone_kind",
            "ck_zone_status",
            "ck_facility_kind",
        } <= checks
        uniques = {
            r["conname"] for r in await conn.fetch("SELECT conname FROM pg_constraint WHERE contype = 'u'")
        }
        assert {"uq_zone_code", "uq_parcel_code", "uq_facility_code"} <= uniques

        insert = "INSERT INTO parcel (code, land_status, geom) VALUES ($1, $2, ST_GeomFromText($3, $4))"
        square = "MULTIPOLYGON(((116 -1, 116.01 -1, 116.01 -0.99, 116 -0.99, 116 -1)))"
        bow_tie = "MULTIPOLYGON(((116 -1, 116.01 -0.99, 116.01 -1, 116 -0.99, 116 -1)))"
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "bad-geom", "available", bow_tie, 4326)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "bad-status", "sold", square, 4326)
        with pytest.raises(asyncpg.InvalidParameterValueError):  # SRID is part of the column type
            await conn.execute(insert, "bad-srid", "available", square, 3857)
        await conn.execute(insert, "ok", "available", square, 4326)
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert, "ok", "available", square, 4326)
        area = await conn.fetchval("SELECT area_ha FROM parcel WHERE code = 'ok'")
        assert 120 < area < 125  # derived by the database
        # Revision 0004: the insert was recorded by its trigger, with the database user as actor.
        change = await conn.fetchrow("SELECT * FROM change WHERE table_name = 'parcel'")
        assert change["operation"] == "insert" and change["actor"] == await conn.fetchval(
            "SELECT current_user"
        )
        triggers = {
            (r["tgrelid"], r["tgname"])
            for r in await conn.fetch("SELECT tgrelid::regclass::text AS tgrelid, tgname FROM pg_trigger")
        }
        assert {(t, "record_change") for t in ("zone", "parcel", "facility", "project")} <= triggers
        assert ("project_parcel", "record_change_insert") in triggers
        # Revision 0006: inserts are checked and recorded statement by statement.
        assert {(t, "record_inserts") for t in ("zone", "parcel", "facility", "project")} <= triggers
        assert {("parcel", "parcel_rules"), ("parcel", "parcel_rules_inserted")} <= triggers
    finally:
        await conn.close()

    run_cli("alembic", "downgrade", "base", database_url=url)
    conn = await asyncpg.connect(dsn(url))
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert not tables & {"zone", "parcel", "facility", "api_key", "change"}
        functions = await conn.fetchval(
            "SELECT count(*) FROM pg_proc WHERE proname IN ('record_change', 'note_project_parcels', "
            "'record_project_parcels', 'change_actor')"
        )
        assert functions == 0
    finally:
        await conn.close()
    run_cli("alembic", "upgrade", "head", database_url=url)
    check = run_cli("alembic", "check", database_url=url)
    assert "No new upgrade operations detected" in check.stdout + check.stderr
