"""Files of land data read with GDAL (pyogrio): which format, which layer, which CRS, and the
features in batches of bounded size, so a file of any size is read in bounded memory.

GeoJSON, GeoPackage, Shapefile (zipped), FlatGeobuf, KML/KMZ and CSV (a WKT column, or
longitude and latitude columns). Nothing here parses a format by hand.
"""

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyogrio
import pyproj
from pyogrio.errors import DataLayerError, DataSourceError

# File name endings, and the format each announces.
FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "Shapefile (zipped)",
    ".fgb": "FlatGeobuf",
    ".kml": "KML",
    ".kmz": "KMZ",
    ".csv": "CSV",
}
CSV_OPEN_OPTIONS = {
    "GEOM_POSSIBLE_NAMES": "wkt,WKT,geometry,geom,the_geom",
    "X_POSSIBLE_NAMES": "lon,longitude,lng,x,bujur",
    "Y_POSSIBLE_NAMES": "lat,latitude,y,lintang",
    "KEEP_GEOM_COLUMNS": "NO",
    "EMPTY_STRING_AS_NULL": "YES",
}
# Formats whose coordinates are CRS84 by definition when the file names no CRS.
LONLAT_BY_DEFAULT = {"GeoJSON", "KML", "KMZ", "CSV"}
CRS84 = {
    "CRS84",
    "OGC:CRS84",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
}


class SourceInvalid(ValueError):
    """A file that cannot be imported as it is, with the reason in words."""


@dataclass(frozen=True)
class Source:
    path: str  # what GDAL opens (a /vsizip/ path for zipped files)
    format: str
    layer: str
    srid: int
    crs: str  # its name, for the report
    fields: tuple[str, ...]
    count: int | None  # features, where the format knows without reading them all
    open_options: dict[str, str]
    warnings: tuple[str, ...] = ()


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise SourceInvalid(f"{filename!r} is not a supported format: send one of {known}.")
    return FORMATS[suffix]


def srid_of(crs: str) -> tuple[int, str]:
    """The EPSG code and name of a CRS given as a code, URL, URN or WKT (a .prj's text)."""
    if crs.strip() in CRS84:
        return 4326, "WGS 84 (CRS84, longitude first)"
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise SourceInvalid(f"the CRS {crs[:200]!r} is not one PROJ knows.") from None
    code = parsed.to_epsg(min_confidence=70)
    if code is None:
        raise SourceInvalid(
            f"the CRS {parsed.name!r} matches no EPSG code; name the file's EPSG code in crs "
            "(for example EPSG:23837 for DGN95 / Indonesia TM-3 zone 50.1)."
        )
    return code, parsed.name


def _gdal_path(path: Path, fmt: str) -> tuple[str, list[str]]:
    """The path GDAL should open, and warnings about what it chose. A KMZ's KML is opened
    inside the zip (GDAL's KMZ reader drops a KML's typed ExtendedData fields)."""
    if fmt not in ("Shapefile (zipped)", "KMZ"):
        return str(path), []
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        raise SourceInvalid(f"the file is not a readable zip archive ({fmt}).") from None
    if fmt == "KMZ":
        kml = sorted((n for n in names if n.lower().endswith(".kml")), key=lambda n: (n != "doc.kml", n))
        if not kml:
            raise SourceInvalid("the KMZ holds no .kml.")
        return f"/vsizip/{path}/{kml[0]}", []
    shapefiles = sorted(n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX"))
    if not shapefiles:
        raise SourceInvalid("the zip holds no .shp: zip a Shapefile's .shp, .shx, .dbf and .prj together.")
    stem = shapefiles[0][:-4]
    missing = [ext for ext in (".shx", ".dbf") if not any(n.lower() == (stem + ext).lower() for n in names)]
    if missing:
        raise SourceInvalid(f"the zip's {shapefiles[0]} comes without its {' and '.join(missing)}.")
    warnings = (
        [f"the zip holds {len(shapefiles)} Shapefiles; {shapefiles[0]} was read"]
        if len(shapefiles) > 1
        else []
    )
    return f"/vsizip/{path}/{shapefiles[0]}", warnings


def open_source(path: Path, filename: str, crs: str | None = None, layer: str | None = None) -> Source:
    """Look at a file without reading its features: format, layer, fields and CRS.

    `crs` names the coordinates' CRS where the file names none or names it wrongly; `layer`
    picks one layer of a GeoPackage (the first by default)."""
    fmt = format_of(filename)
    if path.stat().st_size == 0:
        raise SourceInvalid("the file is empty.")
    gdal_path, warnings = _gdal_path(path, fmt)
    options = CSV_OPEN_OPTIONS if fmt == "CSV" else {}
    try:
        layers = [name for name, _ in pyogrio.list_layers(gdal_path)]
    except (DataSourceError, DataLayerError) as exc:
        raise SourceInvalid(
            f"the file cannot be read as {fmt}: {_first_line(exc, path, filename)}."
        ) from None
    if not layers:
        raise SourceInvalid(f"the {fmt} file holds no layer.")
    if layer is not None and layer not in layers:
        raise SourceInvalid(f"the file has no layer {layer!r}; it has {', '.join(layers)}.")
    chosen = layer or layers[0]
    if layer is None and len(layers) > 1:
        warnings.append(f"the file has {len(layers)} layers ({', '.join(layers[:10])}); {chosen!r} was read")
    try:
        info = pyogrio.read_info(gdal_path, layer=chosen, **options)
    except (DataSourceError, DataLayerError) as exc:
        raise SourceInvalid(
            f"the file cannot be read as {fmt}: {_first_line(exc, path, filename)}."
        ) from None
    if info.get("geometry_type") is None:
        raise SourceInvalid(f"the {fmt} file's layer {chosen!r} has no geometry.")
    declared = info.get("crs")
    if crs is not None:
        srid, name = srid_of(crs)
    elif declared:
        srid, name = srid_of(declared)
    elif fmt in LONLAT_BY_DEFAULT:
        srid, name = 4326, "WGS 84 (the format's default)"
    else:
        raise SourceInvalid(f"the {fmt} file names no CRS (no .prj?); name it in crs, e.g. EPSG:23837.")
    count = info.get("features")
    return Source(
        path=gdal_path,
        format=fmt,
        layer=chosen,
        srid=srid,
        crs=f"EPSG:{srid} ({name})",
        fields=tuple(str(f) for f in info["fields"]),
        count=count if count is not None and count >= 0 else None,
        open_options=options,
        warnings=tuple(warnings),
    )


def _first_line(exc: Exception, path: Path | str = "", name: str = "the file") -> str:
    """GDAL's message, first line, with the upload's temporary path replaced by its name."""
    line = (str(exc).strip().splitlines() or ["unreadable"])[0]
    if path:
        line = re.sub(rf"(/vsizip/)?{re.escape(str(path))}(/[^ :]*)?", name, line)
    return line.split("; It might help")[0].strip().rstrip(".")[:300]


JSON_AS_IS = (str, int, type(None))


def plain(value: Any) -> Any:
    """A value read from a file as JSON can hold it."""
    if type(value) in JSON_AS_IS:  # most values: nothing to do (bool is not int's type)
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and value != value:  # NaN: no value
        return None
    return value


def batches(source: Source, size: int = 10_000) -> Iterator[list[tuple[bytes | None, dict[str, Any]]]]:
    """The features as (WKB or None, {field: value}), `size` at a time, in the file's order."""
    try:
        with pyogrio.raw.open_arrow(
            source.path, layer=source.layer, batch_size=size, use_pyarrow=True, **source.open_options
        ) as (meta, reader):
            geometry = meta["geometry_name"] or "wkb_geometry"
            for batch in reader:
                columns = {name: batch.column(name).to_pylist() for name in source.fields}
                shapes = batch.column(geometry).to_pylist()
                yield [
                    (wkb, {name: plain(values[i]) for name, values in columns.items()})
                    for i, wkb in enumerate(shapes)
                ]
    except (DataSourceError, DataLayerError) as exc:
        raise SourceInvalid(f"the file cannot be read to its end: {_first_line(exc, source.path)}.") from None
