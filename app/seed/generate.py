"""Realistic synthetic parcels, in and around the zones, for volume tests and benchmarks.

The land around the zones is one lattice of 330 m super-blocks. Zones take turns to claim the
free super-blocks nearest their centres, so their neighbourhoods meet without overlapping. A
super-block holds either 3 x 3 blocks of 100 m with 10 m roads, each cut into 1-4 strips of
varied width (plots of about 0.1 to 1 ha), or, for 30 % of them, one 320 m industrial block
cut into 1-2 lots of 3 to 10 ha. Statuses, rights, sectors and prices follow plausible shares.
A few parcels are deliberately copied with a shift, so that they overlap their neighbours (the
conflicts check finds them); the lattice ignores zone boundaries, so some parcels straddle
them. Everything is drawn from a seeded generator: the same count and seed give the same
parcels.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0
OVERLAP_EVERY = 2_000  # one deliberate overlap per this many parcels
# The reason the bulk load gives the database for the deliberate overlaps, recorded with each.
OVERLAP_REASON = "generated demo overlap"

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


SUPER_M = 330.0
LARGE_SHARE = 0.30  # of super-blocks
SMALL_BLOCK_M, SMALL_PITCH_M = 100.0, 110.0
LARGE_BLOCK_M = 320.0
SMALL_STRIPS, SMALL_STRIP_SHARES = (1, 2, 3, 4), (0.25, 0.35, 0.25, 0.15)
LARGE_STRIPS, LARGE_STRIP_SHARES = (1, 2), (0.5, 0.5)
PARCELS_PER_SUPER = (1 - LARGE_SHARE) * 9 * 2.3 + LARGE_SHARE * 1.5


def claim(zones: list[ZoneCentre], needed: list[int], origin: tuple[float, float]) -> list[np.ndarray]:
    """Super-blocks (i, j) for each zone, nearest its centre first; zones take turns by distance,
    so each block goes to the zone that reaches it first."""
    centres = [_to_metres(z.lon, z.lat, origin) for z in zones]
    taken: dict[tuple[int, int], int] = {}
    claimed: list[list[tuple[int, int]]] = [[] for _ in zones]
    radius = 2.0
    while any(len(c) < n for c, n in zip(claimed, needed, strict=True)):
        radius *= 1.5
        candidates = []
        for k, ((x, y), n) in enumerate(zip(centres, needed, strict=True)):
            reach = math.sqrt(n / math.pi) * radius + 2
            ci, cj = x / SUPER_M, y / SUPER_M
            ii, jj = np.meshgrid(
                np.arange(math.floor(ci - reach), math.ceil(ci + reach) + 1),
                np.arange(math.floor(cj - reach), math.ceil(cj + reach) + 1),
            )
            distance = np.hypot(ii + 0.5 - ci, jj + 0.5 - cj)
            near = distance <= reach
            candidates += zip(
                distance[near].tolist(),
                [k] * int(near.sum()),
                ii[near].tolist(),
                jj[near].tolist(),
                strict=True,
            )
        for _, k, i, j in sorted(candidates):
            if len(claimed[k]) < needed[k] and (i, j) not in taken:
                taken[(i, j)] = k
                claimed[k].append((i, j))
    return [np.array(c, dtype=float).reshape(-1, 2) for c in claimed]


def _strips(rng: np.random.Generator, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For blocks cut into `counts` strips: (block index, left, right) of each strip, as a share of
    the block's width. Inner cuts are jittered but keep strips at least 30 % of their share wide."""
    block_of = np.repeat(np.arange(counts.size), counts)
    position = np.arange(block_of.size) - np.repeat(np.cumsum(counts) - counts, counts)
    cuts = rng.uniform(0.15, 0.85, size=block_of.size)
    count = np.repeat(counts, counts)
    left = np.where(position == 0, 0.0, (position + cuts - 0.5) / count)
    right = np.where(position == count - 1, 1.0, (position + 1 + np.roll(cuts, -1) - 0.5) / count)
    return block_of, left, right


def _to_metres(lon: float, lat: float, origin: tuple[float, float]) -> tuple[float, float]:
    scale = METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(origin[1]))
    return (lon - origin[0]) * scale, (lat - origin[1]) * METRES_PER_DEGREE_LAT


def zone_parcels(
    rng: np.random.Generator, cells: np.ndarray, count: int, origin: tuple[float, float]
) -> np.ndarray:
    """`count` parcel polygons (shapely array, lon/lat) filling the super-blocks `cells` in order."""
    large = rng.random(len(cells)) < LARGE_SHARE
    # blocks: origin (x, y) and side, small super-blocks holding nine, large ones one
    offsets = np.array([(bx, by) for by in range(3) for bx in range(3)], dtype=float) * SMALL_PITCH_M
    small_cells = cells[~large]
    small_xy = (small_cells[:, None, :] * SUPER_M + offsets[None, :, :]).reshape(-1, 2)
    small_rank = np.repeat(np.flatnonzero(~large), 9)
    large_xy = cells[large] * SUPER_M
    xy = np.concatenate([small_xy, large_xy])
    side = np.concatenate([np.full(len(small_xy), SMALL_BLOCK_M), np.full(len(large_xy), LARGE_BLOCK_M)])
    rank = np.concatenate([small_rank, np.flatnonzero(large)])
    strips = np.concatenate(
        [
            rng.choice(SMALL_STRIPS, size=len(small_xy), p=SMALL_STRIP_SHARES),
            rng.choice(LARGE_STRIPS, size=len(large_xy), p=LARGE_STRIP_SHARES),
        ]
    )
    order = np.argsort(rank, kind="stable")  # nearest super-blocks first
    xy, side, strips = xy[order], side[order], strips[order]
    block, left, right = _strips(rng, strips)
    block, left, right = block[:count], left[:count], right[:count]
    x0 = xy[block, 0] + left * side[block]
    x1 = xy[block, 0] + right * side[block]
    y0 = xy[block, 1]
    y1 = y0 + side[block]
    lon_scale = METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(origin[1]))
    return shapely.box(
        origin[0] + x0 / lon_scale,
        origin[1] + y0 / METRES_PER_DEGREE_LAT,
        origin[0] + x1 / lon_scale,
        origin[1] + y1 / METRES_PER_DEGREE_LAT,
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
    origin = (float(np.mean([z.lon for z in zones])), float(np.mean([z.lat for z in zones])))
    needed = [math.ceil(n / PARCELS_PER_SUPER * 1.15) + 2 for n in shares]
    territories = claim(zones, needed, origin)
    for zone_index, (zone, share) in enumerate(zip(zones, shares, strict=True)):
        polygons = zone_parcels(rng, territories[zone_index], int(share), origin)
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
