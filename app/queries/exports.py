"""The rows of an export: a selection (what a list route filters) streamed from PostgreSQL
through a server-side cursor, each row's geometry rendered by PostGIS as the format needs it."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.queries.catalogue import feature_sql
from app.queries.features import Selection

BATCH = 1000


@dataclass(frozen=True)
class ExportCrs:
    name: str
    srid: int

    @property
    def decimals(self) -> int:
        return 8 if self.srid in GEOGRAPHIC else 3  # about 1 mm either way

    def geometry(self, expr: str) -> str:
        """Longitude first for geographic CRSs, as GIS files store them."""
        return expr if self.srid == 4326 else f"ST_Transform({expr}, {self.srid})"


GEOGRAPHIC = {4326, 9470}
EXPORT_CRSS = {
    c.name: c
    for c in (
        ExportCrs("EPSG:4326", 4326),
        ExportCrs("EPSG:32750", 32750),
        ExportCrs("EPSG:32650", 32650),
        ExportCrs("EPSG:23837", 23837),
        ExportCrs("EPSG:23838", 23838),
        ExportCrs("EPSG:9470", 9470),
    )
}


def _geometry(kind: str, crs: ExportCrs) -> str:
    geom = crs.geometry("t.geom")
    return {
        "wkt": f"ST_AsText({geom}, {crs.decimals})",
        "kml": "ST_AsKML(t.geom, 8)",
        "wkb": f"ST_AsBinary({geom})",
    }[kind]


async def rows(
    session: AsyncSession, s: Selection, kind: str, crs: ExportCrs
) -> AsyncIterator[list[tuple[int, dict, Any]]]:
    """(id, properties, geometry) in batches; for `geojson` the third is the whole Feature
    (with the id among its properties too, where GDAL readers look for it)."""
    where = f"WHERE {' AND '.join(s.where)}" if s.where else ""
    props = {"id": "t.id", **s.properties}
    if kind == "geojson":
        feature = feature_sql("t.id", props, crs.geometry("t.geom"), crs.decimals)
        select = f"t.id, NULL::text, ({feature})::text"
    else:
        pairs = ", ".join(f"'{name}', {sql}" for name, sql in s.properties.items())
        select = f"t.id, json_build_object({pairs})::text, {_geometry(kind, crs)}"
    sql = f"SELECT {select} FROM {s.source} {where} ORDER BY {s.order}"
    result = await session.stream(text(sql), s.params)
    async for part in result.partitions(BATCH):
        yield [(key, json.loads(props) if props else {}, geometry) for key, props, geometry in part]
