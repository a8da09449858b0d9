"""Settings, read once from the environment (and an optional .env file)."""

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.geometry import GeometryRules

# East Kalimantan's bounding box (min lon, min lat, max lon, max lat), rounded outwards from the
# province's regency boundaries (Kepmendagri 300.2.2-2430/2025 via cahyadsn/wilayah_boundaries),
# with a margin for its coastal waters.
KALTIM_BBOX = (113.8, -2.6, 119.3, 2.6)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/kaltim",
        description="SQLAlchemy URL of the PostGIS database (asyncpg driver).",
    )
    database_replica_url: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated URLs of hot standbys of DATABASE_URL that serve reads (default none).",
    )
    replica_max_lag_s: float = Field(
        5.0, gt=0, description="A standby further behind the primary than this serves no reads."
    )
    replica_poll_s: float = Field(1.0, gt=0, description="How often each server checks its standbys.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bootstrap keys; each acts as an admin named env-key-1, env-key-2 ...",
    )
    require_read_key: bool = Field(False, description="Reads, too, need a key (any role).")
    expose_holder: bool = Field(
        False, description="Show parcels' `holder` (personal data) to callers without a key."
    )
    key_cache_seconds: float = Field(
        5.0, ge=0, description="How long a looked-up key is remembered; a revocation takes this long at most."
    )
    area_of_interest: Annotated[tuple[float, float, float, float], NoDecode] = Field(
        KALTIM_BBOX,
        description="min_lon,min_lat,max_lon,max_lat: incoming geometry must lie inside it.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Comma-separated origins that browsers may call the API from; * for any.",
    )
    map_basemap_url: str | None = Field(
        None, description="Raster tile URL template ({z}/{x}/{y}) drawn under /map; none by default."
    )
    map_basemap_attribution: str | None = None
    default_page_size: int = Field(100, ge=1, description="Features per page when `limit` is not given.")
    max_page_size: int = Field(
        10_000, ge=1, description="The most features one page may hold, on native and OGC lists alike."
    )
    max_body_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest request body; larger ones get 413 before they are read or the key is checked.",
    )
    max_vertices: int = Field(100_000, ge=4, description="Positions one incoming geometry may hold.")
    cql2_max_length: int = Field(20_000, ge=100, description="Characters a CQL2 `filter` may hold.")
    cql2_max_depth: int = Field(30, ge=2, description="How deeply a CQL2 `filter` may nest.")
    cql2_max_nodes: int = Field(
        500, ge=2, description="Terms (predicates and values) a CQL2 `filter` may hold."
    )
    max_parts: int = Field(10_000, ge=1, description="Parts one incoming multi-geometry may hold.")
    db_pool_size: int = Field(10, ge=1, description="Connections for ordinary requests, per worker.")
    db_pool_timeout_s: float = Field(
        5.0, gt=0, description="How long a request waits for a connection before it gets 503."
    )
    query_timeout_s: float = Field(
        10.0, gt=0, description="Time budget of every query of an ordinary request."
    )
    lock_timeout_s: float = Field(
        5.0,
        gt=0,
        description="How long a write waits for ground or rows another write holds before it gets 503.",
    )
    heavy_pool_size: int = Field(
        2,
        ge=1,
        description="Connections for expensive reads, per worker: big pages, CQL2 filters, site search "
        "sorted by distance, conflicts, zone summaries and low-zoom tiles. They queue for these and "
        "never take the ordinary requests' connections.",
    )
    heavy_wait_s: float = Field(
        10.0, gt=0, description="How long an expensive read waits for its pool before it gets 503."
    )
    heavy_query_timeout_s: float = Field(
        30.0, gt=0, description="Time budget of every query of an expensive read."
    )
    request_deadline_s: float = Field(
        45.0,
        gt=0,
        description="A request that has not begun to answer after this long is cancelled and gets 503.",
    )
    import_max_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1024,
        description="Largest file POST /imports accepts (413 past it, before the upload is read).",
    )
    import_timeout_s: float = Field(
        3600.0, gt=0, description="Time budget of each statement of an import job."
    )
    import_dir: str | None = Field(
        None, description="Where uploads wait for their job and exports are written (default: the temp dir)."
    )
    tile_cache_tiles: int = Field(
        50_000,
        ge=0,
        description="Vector tiles the database keeps rendered (0: none); writes drop the tiles they touch.",
    )
    tile_prune_s: float = Field(
        30.0, gt=0, description="How often a server drops invalidated and surplus cached tiles."
    )
    heavy_page_size: int = Field(
        1_000, ge=1, description="Pages asking for more features than this count as expensive reads."
    )

    @property
    def geometry_rules(self) -> GeometryRules:
        return GeometryRules(self.area_of_interest, self.max_vertices, self.max_parts)

    @field_validator("api_keys", "cors_origins", "database_replica_url", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("area_of_interest", mode="before")
    @classmethod
    def _split_bbox(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(float(part) for part in value.split(","))
        if len(value) != 4 or value[0] >= value[2] or value[1] >= value[3]:
            raise ValueError("area_of_interest must be min_lon,min_lat,max_lon,max_lat with min < max")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return _asyncpg(value)

    @field_validator("database_replica_url")
    @classmethod
    def _async_drivers(cls, value: list[str]) -> list[str]:
        return [_asyncpg(url) for url in value]


def _asyncpg(url: str) -> str:
    """A plain postgresql:// URL, with the asyncpg driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
