"""Realistic synthetic parcels, in and around the zones, for volume tests and benchmarks.

Around each zone's centre lies a grid of 100 m blocks separated by 10 m roads; each block is
cut into 1-4 strips of varied width, so parcels range from about 0.1 to 1 ha. North of it, a
band of 400 m x 300 m industrial blocks cut into 1-2 lots gives the large plots (3-12 ha) that
factories look for: about 3 % of the parcels. Statuses, rights,
sectors and prices follow plausible shares. A few parcels are deliberately copied with a shift,
so that they overlap their neighbours (the conflicts check finds them); grids also run across
zone boundaries, so some parcels straddle them. Everything is drawn from a seeded generator:
the same count and seed give the same parcels.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

LARGE_LOT_SHARE = 0.03
METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0
OVERLAP_EVERY = 2_000  # one deliberate overlap per this many parcels

STATUSES = np.array(["available", "reserved", "allocated", "occupied"])
STATUS_SHARES = [0.45, 0.20, 0.15, 0.20]
RIGHTS = np.array(["HGB", "HPL", "HGU", "hak_milik", "state_land", "unknown"])
RIGHTS_SHARES = [0.40, 0.25, 0.10, 0.10, 0.10, 0.05]
COLUMNS = [
    "code",
    "land_status",
    "land_rights",
    "land_use",
    "holder",
    "sector",
    "price_idr_per_m2",
    "attributes",
    "geom",
]


@dataclass(frozen=True)
class ZoneCentre:
    code: str
    lon: float
    lat: float
    sectors: list[str]


@dataclass(frozen=True)
class Grid:
    width_m: float  # block size
    height_m: float
    road_m: float  # gap between blocks
    strips: tuple[int, ...]  # how many parcels a block may be cut into ...
    shares: tuple[float, ...]  # ... and how often


SMALL = Grid(100.0, 100.0, 10.0, (1, 2, 3, 4), (0.25, 0.35, 0.25, 0.15))
LARGE = Grid(400.0, 300.0, 20.0, (1, 2), (0.5, 0.5))


def _strips(rng: np.random.Generator, grid: Grid, blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each block, its strips: (block index, left edge, right edge) in metres within the block."""
    per_block = rng.choice(grid.strips, size=blocks, p=grid.shares)
    block_of = np.repeat(np.arange(blocks), per_block)
    # Strip p of c spans from cut p to cut p+1; inner cuts are jittered, at least 30 % of a strip apart.
    position = np.arange(block_of.size) - np.repeat(np.cumsum(per_block) - per_block, per_block)
    cuts = rng.uniform(0.15, 0.85, size=block_of.size)
    count = np.repeat(per_block, per_block)
    left = np.where(position == 0, 0.0, (position + cuts - 0.5) / count)
    right = np.where(position == count - 1, 1.0, (position + 1 + np.roll(cuts, -1) - 0.5) / count)
    return block_of, left * grid.width_m, right * grid.width_m


def _grid_parcels(
    rng: np.random.Generator, grid: Grid, count: int, side: int, x_origin: float, y_origin: float
) -> tuple[np.ndarray, ...]:
    """`count` parcels (x0, y0, x1, y1 in metres) on a grid `side` blocks wide with its SW corner
    at (x_origin, y_origin)."""
    fewest = min(grid.strips)
    block_of, left, right = _strips(rng, grid, math.ceil(count / fewest))
    block_of, left, right = block_of[:count], left[:count], right[:count]
    row, col = np.divmod(block_of, side)
    x = x_origin + col * (grid.width_m + grid.road_m)
    y = y_origin + row * (grid.height_m + grid.road_m)
    return x + left, y, x + right, y + grid.height_m


def zone_parcels(rng: np.random.Generator, zone: ZoneCentre, count: int) -> np.ndarray:
    """`count` parcel polygons (shapely array, lon/lat): small blocks centred on the zone, large
    industrial lots in a band north of them."""
    large = round(count * LARGE_LOT_SHARE)
    small = count - large
    side = math.ceil(math.sqrt(small / float(np.dot(SMALL.strips, SMALL.shares)))) + 1
    span = side * (SMALL.width_m + SMALL.road_m)
    boxes = [_grid_parcels(rng, SMALL, small, side, -span / 2, -span / 2)]
    if large:
        large_side = max(1, math.floor(span / (LARGE.width_m + LARGE.road_m)))
        boxes.append(_grid_parcels(rng, LARGE, large, large_side, -span / 2, span / 2 + LARGE.road_m))
    x0, y0, x1, y1 = (np.concatenate(parts) for parts in zip(*boxes, strict=True))
    lon_scale = METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(zone.lat))
    return shapely.box(
        zone.lon + x0 / lon_scale,
        zone.lat + y0 / METRES_PER_DEGREE_LAT,
        zone.lon + x1 / lon_scale,
        zone.lat + y1 / METRES_PER_DEGREE_LAT,
    )


def _overlapping_copies(rng: np.random.Generator, polygons: np.ndarray, count: int) -> np.ndarray:
    """Copies of `count` random parcels shifted east by 40 % of their width: each overlaps."""
    picked = polygons[rng.choice(polygons.size, size=count, replace=False)]
    bounds = shapely.bounds(picked)
    shift = (bounds[:, 2] - bounds[:, 0]) * 0.4
    return shapely.box(bounds[:, 0] + shift, bounds[:, 1], bounds[:, 2] + shift, bounds[:, 3])


def rows(zones: list[ZoneCentre], count: int, seed: int, batch: str, chunk: int = 100_000) -> Iterator[bytes]:
    """COPY text-format lines for `count` parcels spread evenly over `zones`, in chunks."""
    rng = np.random.default_rng(seed)
    overlaps = count // OVERLAP_EVERY
    shares = np.full(len(zones), (count - overlaps) // len(zones))
    shares[: (count - overlaps) % len(zones)] += 1
    for zone_index, (zone, share) in enumerate(zip(zones, shares, strict=True)):
        polygons = zone_parcels(rng, zone, int(share))
        extra = overlaps // len(zones) + (1 if zone_index < overlaps % len(zones) else 0)
        if extra:
            polygons = np.concatenate([polygons, _overlapping_copies(rng, polygons, extra)])
        n = polygons.size
        geoms = shapely.to_wkb(
            shapely.set_srid(shapely.multipolygons(polygons[:, None]), 4326), hex=True, include_srid=True
        )
        status = rng.choice(STATUSES, size=n, p=STATUS_SHARES)
        rights = rng.choice(RIGHTS, size=n, p=RIGHTS_SHARES)
        sector = np.array(zone.sectors or ["industry"])[rng.integers(0, max(len(zone.sectors), 1), size=n)]
        price = rng.integers(4, 26, size=n) * 100_000
        holder = rng.integers(1, 5_000, size=n)
        prefix = f"G{batch}-{zone.code.upper()}-"
        for start in range(0, n, chunk):
            lines = []
            for i in range(start, min(start + chunk, n)):
                taken = status[i] in ("allocated", "occupied")
                lines.append(
                    "\t".join(
                        (
                            f"{prefix}{i}",
                            status[i],
                            rights[i],
                            "industrial",
                            f"Holder {holder[i]}" if taken else "\\N",
                            sector[i],
                            str(price[i]) if status[i] == "available" else "\\N",
                            '{"generated": true}',
                            geoms[i],
                        )
                    )
                )
            yield ("\n".join(lines) + "\n").encode()
