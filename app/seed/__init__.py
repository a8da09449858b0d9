"""Kaltim reference data (zones, facilities) and its idempotent loader."""

import json
from collections import Counter
from importlib.resources import files
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.geometry import ANY_SIMPLE, POLYGONAL, normalise, to_wkb
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
    outcome: dict[str, Counter] = {"zones": Counter(), "facilities": Counter(), "projects": Counter()}
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
