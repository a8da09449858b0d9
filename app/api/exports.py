"""Exports of the parcel lists as files: the same filters as the lists, the whole set streamed."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app import exports
from app.api.deps import AsOfDep, HolderDep, ReadAccess, SettingsDep, csv_enum
from app.api.lists import BBoxDep
from app.api.parcels import SiteCriteriaDep
from app.db import SessionDep
from app.errors import BadRequest
from app.models import LandStatus
from app.queries import parcels, search
from app.queries.exports import EXPORT_CRSS, Selection, rows
from app.queries.parcels import ParcelFilter, Relation
from app.schemas.common import ProblemOut

router = APIRouter(tags=["exports"], dependencies=[ReadAccess])

FormatName = Annotated[
    Literal["geojson", "geojsonseq", "csv", "kml", "gpkg", "fgb", "shp"],
    Query(description="geojson, geojsonseq (RFC 8142), csv (WKT), kml, gpkg, fgb, shp (zipped)."),
]
CrsName = Annotated[
    str,
    Query(description="The coordinates' CRS: " + ", ".join(EXPORT_CRSS) + " (KML is always EPSG:4326)."),
]
LandStatusQ = Annotated[str | None, Query(description="Comma-separated land statuses.")]
FILE = {
    200: {
        "description": "The file, streamed.",
        "content": {f.media_type: {} for f in exports.FORMATS.values()},
    },
    400: {"model": ProblemOut},
}


def _respond(request: Request, selection: Selection, format: str, crs: str, workdir: str | None):
    fmt = exports.FORMATS[format]
    if crs not in EXPORT_CRSS:
        raise BadRequest(f"crs: one of {', '.join(EXPORT_CRSS)}.")
    if fmt.lonlat_only and crs != "EPSG:4326":
        raise BadRequest("crs: KML is always EPSG:4326 (longitude, latitude).")
    target = EXPORT_CRSS[crs]
    pools = request.app.state.pools
    headers = {"Content-Disposition": exports.disposition(selection.layer, fmt), "Content-Crs": f"<{crs}>"}
    if format == "shp":
        renamed = {k: v for k, v in exports.shapefile_names(["id", *selection.fields]).items() if k != v}
        headers["X-Shapefile-Fields"] = exports.renamed_header(renamed)

    async def body():
        # A session of its own: the response outlives the request's session.
        async with pools.heavy_sessions() as session:
            stream = rows(session, selection, fmt.geometry, target)
            async for chunk in exports.write(fmt, stream, selection, target.srid, workdir):
                yield chunk

    return StreamingResponse(body(), media_type=fmt.media_type, headers=headers)


@router.get("/parcels/export", responses=FILE)
async def export_parcels(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: BBoxDep,
    show_holder: HolderDep,
    as_of: AsOfDep,
    format: FormatName = "geojson",
    crs: CrsName = "EPSG:4326",
    land_status: LandStatusQ = None,
    zone: Annotated[str | None, Query(description="Code of a zone that must cover the parcel.")] = None,
):
    """Every parcel `/parcels` would list with the same filters, as one file."""
    f = ParcelFilter(
        bbox=bbox, land_status=csv_enum("land_status", land_status, LandStatus), zone=zone, as_of=as_of
    )
    selection = await parcels.selection(session, f, show_holder=show_holder)
    return _respond(request, selection, format, crs, settings.import_dir)


@router.get("/zones/{code}/parcels/export", responses={**FILE, 404: {"model": ProblemOut}})
async def export_parcels_in_zone(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bbox: BBoxDep,
    show_holder: HolderDep,
    format: FormatName = "geojson",
    crs: CrsName = "EPSG:4326",
    relation: Annotated[
        Relation, Query(description="`within` or `intersects` (with share_in_zone).")
    ] = "within",
    land_status: LandStatusQ = None,
):
    """Every parcel `/zones/{code}/parcels` would list with the same filters, as one file."""
    f = ParcelFilter(
        bbox=bbox, land_status=csv_enum("land_status", land_status, LandStatus), relation=relation
    )
    selection = await parcels.selection(session, f, show_holder=show_holder, in_zone=code)
    return _respond(request, selection, format, crs, settings.import_dir)


@router.get("/parcels/search/export", responses=FILE)
async def export_sites(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    show_holder: HolderDep,
    criteria: SiteCriteriaDep,
    format: FormatName = "geojson",
    crs: CrsName = "EPSG:4326",
):
    """Every parcel the site search finds with the same criteria, in its order, with its
    distances, as one file."""
    selection = await search.site_selection(session, criteria, show_holder=show_holder)
    return _respond(request, selection, format, crs, settings.import_dir)
