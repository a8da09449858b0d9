"""Exports of a filtered list as a file, in bounded memory: GeoJSON, GeoJSON text sequences,
CSV (WKT) and KML are written as the rows arrive; GeoPackage, FlatGeobuf and zipped Shapefile
by GDAL (pyogrio) from a stream of Arrow batches, into a temporary file that is then sent.

Rows come from app.queries.exports as (id, properties, geometry): the geometry as GeoJSON
text, WKT, KML or WKB, whichever the format needs, in the CRS asked for.
"""

import asyncio
import csv
import io
import json
import queue
import re
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pyarrow as pa
import pyogrio

from app.queries.features import Selection


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    suffix: str
    geometry: str  # what the rows must carry: geojson, wkt, kml or wkb
    gdal: str | None = None  # the GDAL driver, for the formats GDAL writes
    lonlat_only: bool = False


FORMATS = {
    f.name: f
    for f in (
        Format("geojson", "application/geo+json", ".geojson", "geojson"),
        Format("geojsonseq", "application/geo+json-seq", ".geojsons", "geojson"),
        Format("csv", "text/csv; charset=utf-8", ".csv", "wkt"),
        Format("kml", "application/vnd.google-earth.kml+xml", ".kml", "kml", lonlat_only=True),
        Format("gpkg", "application/geopackage+sqlite3", ".gpkg", "wkb", "GPKG"),
        Format("fgb", "application/flatgeobuf", ".fgb", "wkb", "FlatGeobuf"),
        Format("shp", "application/zip", ".zip", "wkb", "ESRI Shapefile"),
    )
}

Row = tuple[int, dict[str, Any], Any]
Rows = AsyncIterator[list[Row]]


def shapefile_names(names: list[str]) -> dict[str, str]:
    """Our property names as Shapefile field names: at most 10 characters, unique, the same for
    the same list. Names that fit are kept."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        short = name[:10]
        n = 1
        while short.lower() in taken:
            suffix = f"_{n}"
            short = name[: 10 - len(suffix)] + suffix
            n += 1
        taken.add(short.lower())
        out[name] = short
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


async def geojson(rows: Rows, crs_member: dict | None) -> AsyncIterator[bytes]:
    head = {"type": "FeatureCollection", **({"crs": crs_member} if crs_member else {})}
    yield (json.dumps(head)[:-1] + ', "features": [').encode()
    first = True
    async for batch in rows:
        parts = []
        for _, _, feature in batch:
            parts.append(feature if first else "," + feature)
            first = False
        yield "\n".join(parts).encode()
    yield b"]}\n"


async def geojson_seq(rows: Rows) -> AsyncIterator[bytes]:
    async for batch in rows:  # RFC 8142: each text starts with RS and ends with LF
        yield "".join(f"\x1e{feature}\n" for _, _, feature in batch).encode()


async def csv_text(rows: Rows, names: list[str]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", *names, "wkt"])
    async for batch in rows:
        for key, properties, wkt in batch:
            writer.writerow([key, *(_text(properties.get(n)) for n in names), wkt])
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


async def kml(rows: Rows, names: list[str], layer: str, label: str) -> AsyncIterator[bytes]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
        f"<Document><name>{escape(layer)}</name>\n"
    ).encode()
    async for batch in rows:
        parts = []
        for key, properties, geometry in batch:
            data = "".join(
                f'<Data name="{escape(n)}"><value>{escape(_text(properties[n]))}</value></Data>'
                for n in names
                if properties.get(n) is not None
            )
            title = escape(str(properties.get(label) or key))
            parts.append(
                f'<Placemark id="{key}"><name>{title}</name><ExtendedData>{data}</ExtendedData>'
                f"{geometry}</Placemark>\n"
            )
        yield "".join(parts).encode()
    yield b"</Document></kml>\n"


def arrow_schema(names: list[str], numbers: set[str]) -> pa.Schema:
    fields = [pa.field("id", pa.int64())]
    fields += [pa.field(n, pa.float64() if n in numbers else pa.string()) for n in names]
    return pa.schema(fields + [pa.field("geometry", pa.binary())])


def _batch(schema: pa.Schema, names: list[str], numbers: set[str], rows: list[Row]) -> pa.RecordBatch:
    """Rows as a batch of `schema`, whose columns after id are `names` in order (perhaps renamed)."""
    columns: list[list] = [[key for key, _, _ in rows]]
    for n in names:
        if n in numbers:
            columns.append([None if p.get(n) is None else float(p[n]) for _, p, _ in rows])
        else:
            columns.append([_text(p.get(n)) for _, p, _ in rows])
    columns.append([wkb for _, _, wkb in rows])
    arrays = [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


async def gdal_file(
    rows: Rows,
    fmt: Format,
    names: list[str],
    numbers: set[str],
    layer: str,
    srid: int,
    geometry_type: str,
    workdir: Path,
) -> Path:
    """Write the rows with GDAL into a file under `workdir` (a zip for Shapefiles, their field
    names renamed by `shapefile_names`); returns it. GDAL runs in a thread, fed batch by batch
    through a short queue."""
    renamed = shapefile_names(["id", *names]) if fmt.gdal == "ESRI Shapefile" else {}
    columns = [renamed.get(n, n) for n in names]
    schema = arrow_schema(columns, {renamed.get(n, n) for n in numbers})
    feed: queue.Queue = queue.Queue(maxsize=2)
    target = workdir / (f"{layer}.shp" if renamed else f"{layer}{fmt.suffix}")
    failure: list[BaseException] = []

    def write() -> None:
        try:
            reader = pa.RecordBatchReader.from_batches(schema, iter(feed.get, None))
            pyogrio.raw.write_arrow(
                reader,
                str(target),
                layer=layer,
                driver=fmt.gdal,
                geometry_name="geometry",
                geometry_type=geometry_type,
                crs=f"EPSG:{srid}",
                encoding="UTF-8" if renamed else None,
            )
        except BaseException as exc:  # reported to the event loop below
            failure.append(exc)
            while feed.get() is not None:  # let the producer finish
                pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        async for batch in rows:
            if failure:
                break
            await asyncio.to_thread(feed.put, _batch(schema, names, numbers, batch))
    finally:
        await asyncio.to_thread(feed.put, None)
        await asyncio.to_thread(thread.join)
    if failure:
        raise failure[0]
    if not renamed:
        return target
    archive = workdir / f"{layer}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for part in sorted(workdir.glob(f"{layer}.*")):
            if part != archive:
                out.write(part, part.name)
        listing = "".join(f"{k},{v}\n" for k, v in renamed.items())
        out.writestr(f"{layer}-fields.csv", "property,shapefile_field\n" + listing)
    return archive


async def write(
    fmt: Format, rows: Rows, s: Selection, srid: int, workdir: str | None
) -> AsyncIterator[bytes]:
    """The selection's rows (from app.queries.exports.rows, with the geometry `fmt` needs) as
    the bytes of a file in `fmt`; GDAL's formats go through a temporary file under `workdir`."""
    names = s.fields
    if fmt.name == "geojson":
        crs = (
            None
            if srid == 4326
            else {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
        )
        chunks = geojson(rows, crs)
    elif fmt.name == "geojsonseq":
        chunks = geojson_seq(rows)
    elif fmt.name == "csv":
        chunks = csv_text(rows, names)
    elif fmt.name == "kml":
        chunks = kml(rows, names, s.layer, s.label)
    else:
        with tempfile.TemporaryDirectory(prefix="export-", dir=workdir) as folder:
            path = await gdal_file(
                rows, fmt, names, set(s.numbers), s.layer, srid, s.geometry_type, Path(folder)
            )
            with path.open("rb") as f:
                while chunk := await asyncio.to_thread(f.read, 1 << 20):
                    yield chunk
        return
    async for chunk in chunks:
        yield chunk


def disposition(layer: str, fmt: Format) -> str:
    return f'attachment; filename="{re.sub(r"[^A-Za-z0-9_.-]", "-", layer)}{fmt.suffix}"'


def renamed_header(changes: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in changes.items())
