"""Kaltim reference data (administrative areas, zones, facilities) and its idempotent loader."""

import json
from collections import Counter
from importlib.resources import files
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.geometry import ANY_SIMPLE, POLYGONAL, normalise, to_wkb
from app.queries import admin
from app.queries.facilities import FACILITY
from app.queries.features import upsert
from app.queries.projects import upsert_seeded_project
from app.queries.zones import ZONE

BOUNDARY_METHOD = (
    "Approximate: the part of the zone's village polygon (Kepmendagri 300.2.2-2430/2025 boundaries via "
    "cahyadsn/wilayah_boundaries, MIT) within a circle around the zone's reference point, sized to the "
    "published area. Marks the right place and size, not the legal boundary."
)


def _read(name: str) -> Any:
    return json.loads(files(__package__).joinpath(name).read_text(encoding="utf-8"))


ADMIN_FILES = {
    "regency": "admin/kaltim_regencies.geojson",
    "district": "admin/kaltim_districts.geojson",
    "village": "admin/kaltim_zone_villages.geojson",
}
ADMIN_SOURCE = (
    "Kemendagri codes and boundaries (Kepmendagri 300.2.2-2430/2025) via cahyadsn/wilayah_boundaries "
    "@3c5a7960, MIT, Copyright (c) 2024 Cahya DSN; simplified upstream, indicative (app/seed/admin)"
)


def admin_areas() -> list[dict]:
    """The regencies, districts and villages, parents first: code, level, name, parent_code, geometry."""
    rows = []
    for level, name in ADMIN_FILES.items():
        for feature in _read(name)["features"]:
            p = feature["properties"]
            parent = {"regency": None, "district": p.get("kode_kab"), "village": p.get("kode_kec")}[level]
            rows.append(
                {
                    "code": p["kode"],
                    "level": level,
                    "name": p["nama"],
                    "parent_code": parent,
                    "source": ADMIN_SOURCE,
                    "geometry": feature["geometry"],
                }  # fmt: skip
            )
    return rows


def zones() -> list[tuple[dict, dict]]:
    """(properties, geometry) of each reference zone."""
    boundaries = {f["id"]: f for f in _read("zone_boundaries.geojson")["features"]}
    result = []
    for zone in _read("zones.json")["zones"]:
        props = dict(zone)
        boundary = boundaries[props.pop("boundary_id")]
        props["attributes"] = {
            **props["attributes"],
            "boundary_method": BOUNDARY_METHOD,
            "boundary_villages": boundary["properties"]["villages"],
            "boundary_reference_point": boundary["properties"]["reference_point"],
        }
        result.append((props, boundary["geometry"]))
    return result


def facilities() -> list[tuple[dict, dict]]:
    """(properties, geometry) of each reference facility."""
    result = []
    for facility in _read("facilities.json")["facilities"]:
        props = dict(facility)
        geometry = {"type": "Point", "coordinates": [props.pop("lon"), props.pop("lat")]}
        result.append((props, geometry))
    return result


ILLUSTRATIVE = "Illustrative example matching the zone's focus sectors; not an official IPRO listing."


def projects() -> list[dict]:
    """The illustrative projects, as rows for upsert_seeded_project."""
    result = []
    for project in _read("projects.json")["projects"]:
        row = dict(project)
        row["attributes"] = {"illustrative": True, "note": ILLUSTRATIVE, "seed_key": row.pop("seed_key")}
        result.append(row)
    return result


async def load_reference(session: AsyncSession, settings: Settings) -> dict[str, Counter]:
    """Insert or refresh the reference zones, facilities and illustrative projects. Running it
    again changes nothing."""
    outcome: dict[str, Counter] = {
        "admin areas": Counter(),
        "zones": Counter(),
        "facilities": Counter(),
        "projects": Counter(),
    }
    for row in admin_areas():
        outcome["admin areas"][await admin.upsert(session, row)] += 1
    for props, geometry in zones():
        geom = normalise(geometry, POLYGONAL, settings.geometry_rules)
        outcome["zones"][await upsert(session, ZONE, props, to_wkb(geom))] += 1
    for props, geometry in facilities():
        geom = normalise(geometry, ANY_SIMPLE, settings.geometry_rules)
        outcome["facilities"][await upsert(session, FACILITY, props, to_wkb(geom))] += 1
    for row in projects():
        outcome["projects"][await upsert_seeded_project(session, row)] += 1
    await session.commit()
    return outcome
