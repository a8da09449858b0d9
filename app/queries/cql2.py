"""CQL2 filters (OGC API - Features, Part 3) as SQL with bound parameters.

pygeofilter parses the filter and turns it into a SQLAlchemy clause over a collection's
queryables; the clause compiles to SQL with named parameters, so no value is ever pasted into a
statement. Around it: limits on size, nesting and terms, checks of every literal (finite
numbers, valid geometry in CRS84) and of types, and a few forms of the standard that pygeofilter
reads wrongly or not at all (BBOX literals, three-argument between, line breaks, Z coordinates,
a bare true or false).
"""

import json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import shapely
from geoalchemy2 import Geometry
from pygeofilter import ast as cql_ast
from pygeofilter import values
from pygeofilter.backends.sqlalchemy import to_filter
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from shapely.geometry import mapping, shape
from shapely.validation import explain_validity
from sqlalchemy import DateTime, Float, Text, literal_column
from sqlalchemy.dialects.postgresql import psycopg2

from app.queries.ogc import Collection

CQL2_TYPES = {"string": Text, "number": Float, "timestamp": DateTime(timezone=True)}
DECLARED = (
    "this service's CQL2 conformance classes are basic-cql2, advanced-comparison-operators, "
    "basic-spatial-functions and spatial-functions"
)
# Names that may stand before "(" in cql2-text: the spatial functions, geometry literals, temporal
# literals and the keywords of the declared classes. Any other is a function the service lacks.
_TEXT_CALLS = {
    "BBOX", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
    "GEOMETRYCOLLECTION", "DATE", "TIMESTAMP", "IN", "AND", "OR", "NOT", "Z", "LIKE", "BETWEEN",
}  # fmt: skip
_JSON_OPS = {
    "and", "or", "not", "=", "<>", "<", ">", "<=", ">=", "like", "between", "in", "isnull",
    "s_intersects", "s_equals", "s_disjoint", "s_touches", "s_within", "s_overlaps", "s_crosses",
    "s_contains", "s_relate",
}  # fmt: skip
_CALL = re.compile(r"([A-Za-z_][\w:.]*)\s*\(")
# An operator of arithmetic outside string literals (not the sign of an exponent, 1e-5).
_ARITHMETIC = re.compile(r"(?<![0-9][eE])\+|[*/^%]|(?<![0-9])[A-Za-z_)\"]\s*-|\bdiv\b", re.IGNORECASE)
_TEMPORAL_LITERAL = re.compile(r"\b(date|timestamp)\s*\(", re.IGNORECASE)
CRS84_NAMES = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
}
RELATE_PATTERN = re.compile(r"[012TF*]{9}")
_STRING = re.compile(r"'(?:[^']|'')*'")
_BBOX = re.compile(r"\bBBOX\s*\(([^()]*)\)", re.IGNORECASE)
_Z = re.compile(
    r"\b(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION)\s+Z\b",
    re.IGNORECASE,
)


class FilterInvalid(ValueError):
    """A filter that does not parse, names a property that cannot be filtered, or is too big."""


def _unsupported(what: str) -> FilterInvalid:
    return FilterInvalid(f"filter: {what} not supported: {DECLARED}.")


def _kind_of_call(name: str) -> str:
    upper = name.upper()
    if upper.startswith("T_") or upper == "INTERVAL":
        return f"temporal functions ({name}) are"
    if upper.startswith("A_"):
        return f"array functions ({name}) are"
    if upper in ("CASEI", "ACCENTI"):
        return f"{upper} (case- and accent-insensitive comparison) is"
    return f"functions ({name}) are"


def _check_text_classes(text: str) -> None:
    """Refuse, by name, what belongs to a conformance class the service does not declare."""
    outside = _STRING.sub("''", text)
    for match in _CALL.finditer(outside):
        name = match.group(1)
        if not name.upper().startswith("S_") and name.upper() not in _TEXT_CALLS:
            raise _unsupported(_kind_of_call(name))
    if _ARITHMETIC.search(outside):
        raise _unsupported("arithmetic is")


def _check_json_classes(node: Any) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "interval" in item:
                raise _unsupported("temporal intervals are")
            op = item.get("op")
            if isinstance(op, str) and op.lower() not in _JSON_OPS:
                if op in ("+", "-", "*", "/", "^", "%", "div"):
                    raise _unsupported("arithmetic is")
                raise _unsupported(_kind_of_call(op))
            if "function" in item:
                function = item["function"]
                raise _unsupported(
                    _kind_of_call(str(function.get("name") if isinstance(function, dict) else function))
                )
            stack.extend(item.values())


def _box(numbers: list[Any]) -> dict:
    """A bbox literal [minx, miny, maxx, maxy] (or its 6-number 3D form) as a GeoJSON polygon."""
    if len(numbers) not in (4, 6) or not all(_number(n) and math.isfinite(n) for n in numbers):
        raise FilterInvalid("filter: a bbox literal is 4 (or 6) numbers.")
    x0, y0, x1, y1 = numbers if len(numbers) == 4 else (numbers[0], numbers[1], numbers[3], numbers[4])
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _outside_strings(text: str, change) -> str:
    """`change` applied to the parts of a cql2-text filter outside its string literals."""
    parts, last = [], 0
    for match in _STRING.finditer(text):
        parts += [change(text[last : match.start()]), match.group()]
        last = match.end()
    return "".join(parts + [change(text[last:])])


def _text_bbox(match: re.Match) -> str:
    try:
        numbers = [float(part) for part in match.group(1).split(",")]
    except ValueError:
        raise FilterInvalid("filter: BBOX(...) takes 4 (or 6) numbers.") from None
    return shapely.to_wkt(shape(_box(numbers)), rounding_precision=-1)


def _prepare_text(text: str) -> str:
    def change(part: str) -> str:
        part = re.sub(r"\s", " ", part)  # line breaks and tabs are white space too
        part = _Z.sub(r"\1", part)
        part = _TEMPORAL_LITERAL.sub(lambda m: m.group(1).upper() + "(", part)  # keywords in any case
        return _BBOX.sub(_text_bbox, part)

    return _outside_strings(text, change)


def _prepare_json(node: Any) -> Any:
    """The JSON form rewritten where pygeofilter reads it wrongly; its depth checked on the way."""
    if isinstance(node, list):
        return [_prepare_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"}:
        return _box(node["bbox"])
    if "type" in node and ("coordinates" in node or "geometries" in node):
        crs = node.get("crs")
        if crs is not None:
            name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
            if name not in CRS84_NAMES:
                raise FilterInvalid("filter: geometry literals are in CRS84; its crs is not supported.")
        geometry = {key: value for key, value in node.items() if key != "crs"}
        if "coordinates" not in geometry:  # pygeofilter knows a geometry by its coordinates
            geometry["coordinates"] = []
        return geometry
    node = {key: _prepare_json(value) for key, value in node.items()}
    args = node.get("args")
    if node.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        node["args"] = [args[0], [args[1], args[2]]]
    return node


def _depth_and_size(value: Any) -> tuple[int, int]:
    """How deep a JSON value nests and how many objects it holds, without recursion."""
    deepest, size, stack = 0, 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        size += isinstance(item, dict)
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest, size


def _text_depth(text: str) -> int:
    depth = deepest = 0
    for char in _outside_strings(text, lambda part: re.sub(r"[^()]", "", part)):
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def _geometry(value: values.Geometry, max_vertices: int) -> None:
    """A geometry literal checked (valid, not empty, in CRS84 range, not too big) and made 2D."""
    try:
        given = value.geometry
        if "geometries" in given:  # drop the marker _prepare_json gave it
            given = {"type": given["type"], "geometries": given["geometries"]}
        _closed_rings(given)
        geom = shape(given)
    except FilterInvalid:
        raise
    except Exception as exc:
        raise FilterInvalid(f"filter: a geometry literal is malformed: {exc}.") from None
    if geom.is_empty:
        raise FilterInvalid("filter: a geometry literal is empty.")
    if shapely.get_num_coordinates(geom) > max_vertices:
        raise FilterInvalid(
            f"filter: a geometry literal holds more than {max_vertices} vertices (MAX_VERTICES)."
        )
    coords = shapely.get_coordinates(geom)
    if not (abs(coords[:, 0]) <= 180).all() or not (abs(coords[:, 1]) <= 90).all():
        raise FilterInvalid("filter: a geometry literal lies outside longitude ±180, latitude ±90 (CRS84).")
    if not geom.is_valid:
        raise FilterInvalid(f"filter: a geometry literal is invalid: {explain_validity(geom)}.")
    value.geometry = mapping(shapely.force_2d(geom))


def _closed_rings(geometry: dict) -> None:
    """Refuse a polygon ring that does not end where it starts (shapely would close it quietly)."""
    kind = str(geometry.get("type", "")).lower()
    polygons = {"polygon": [geometry.get("coordinates")], "multipolygon": geometry.get("coordinates")}.get(
        kind
    )
    for member in geometry.get("geometries", []) if kind == "geometrycollection" else []:
        _closed_rings(member)
    for polygon in polygons or []:
        for ring in polygon or []:
            if ring and list(ring[0]) != list(ring[-1]):
                raise FilterInvalid("filter: a polygon ring of a geometry literal is not closed.")


def _is_geometry(node: Any) -> bool:
    return isinstance(node, (values.Geometry, values.Envelope)) or (
        isinstance(node, cql_ast.Attribute) and node.name == "geometry"
    )


def _check(ast: Any, types: dict[str, str], max_nodes: int, max_vertices: int) -> None:
    """Every node of the parsed filter checked, without recursion: count, literals and types."""
    stack, seen = [ast], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise FilterInvalid(f"filter: more than {max_nodes} terms (CQL2_MAX_NODES).")
        if isinstance(node, float) and not math.isfinite(node):
            raise FilterInvalid("filter: a number is out of range.")
        if isinstance(node, values.Geometry):
            _geometry(node, max_vertices)
        if not isinstance(node, cql_ast.Node):
            continue
        spatial = isinstance(node, (cql_ast.SpatialComparisonPredicate, cql_ast.Relate))
        children = list(node.get_sub_nodes())
        extra = [getattr(node, name) for name in ("low", "high", "pattern") if hasattr(node, name)]
        if spatial:
            if not all(_is_geometry(child) for child in children):
                raise FilterInvalid("filter: spatial functions compare geometries (geometry or a literal).")
            if isinstance(node, cql_ast.Relate) and not RELATE_PATTERN.fullmatch(str(node.pattern)):
                raise FilterInvalid("filter: an S_RELATE pattern is 9 characters of 0, 1, 2, T, F or *.")
        elif isinstance(node, cql_ast.Predicate) and not isinstance(
            node, (cql_ast.Combination, cql_ast.Not, cql_ast.IsNull)
        ):
            operands = children + extra
            if any(_is_geometry(operand) for operand in operands):
                raise FilterInvalid("filter: geometries are compared with spatial functions only (S_...).")
            _check_operands(node, operands, types)
        stack.extend(children + ([] if spatial else extra))


def _check_operands(node: Any, operands: list[Any], types: dict[str, str]) -> None:
    """Refuse a comparison of a property with a value of the wrong type (`area_ha > 'x'`)."""
    names = [op.name for op in operands if isinstance(op, cql_ast.Attribute) and op.name in types]
    for name in names:
        kind = "string" if isinstance(node, cql_ast.Like) else types[name]
        if kind != types[name]:
            raise FilterInvalid(f"filter: LIKE matches strings; {name} is a {types[name]}.")
        for value in operands:
            if isinstance(value, cql_ast.Node) or value is None:
                continue
            if kind == "number":
                ok = _number(value)
            elif kind == "timestamp":
                ok = isinstance(value, date)  # a DATE or a TIMESTAMP (datetime is a date too)
            else:
                ok = isinstance(value, str)
            if not ok:
                raise FilterInvalid(f"filter: {name} is a {kind}; {value!r} is not.")


def _parse(expression: str, lang: str, max_depth: int, max_nodes: int) -> Any:
    if lang == "cql2-json":
        try:
            data = json.loads(expression)
        except RecursionError:
            raise FilterInvalid(f"filter: nested deeper than {max_depth} (CQL2_MAX_DEPTH).") from None
        except ValueError as exc:
            raise FilterInvalid(f"filter: not JSON: {str(exc).splitlines()[0]}") from None
        if isinstance(data, bool):
            return data
        if not isinstance(data, dict):
            raise FilterInvalid("filter: a CQL2-JSON filter is an object (or true or false).")
        depth, size = _depth_and_size(data)
        if depth > max_depth:
            raise FilterInvalid(f"filter: nested deeper than {max_depth} (CQL2_MAX_DEPTH).")
        if size > max_nodes:
            raise FilterInvalid(f"filter: more than {max_nodes} terms (CQL2_MAX_NODES).")
        _check_json_classes(data)
        return parse_cql2_json(_prepare_json(data))
    text = _prepare_text(expression).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _text_depth(text) > max_depth:
        raise FilterInvalid(f"filter: nested deeper than {max_depth} (CQL2_MAX_DEPTH).")
    terms = len(re.findall(r"\b(?:AND|OR)\b", _outside_strings(text, str.upper)))
    if terms >= max_nodes:
        raise FilterInvalid(f"filter: more than {max_nodes} terms (CQL2_MAX_NODES).")
    _check_text_classes(text)
    return parse_cql2_text(text)


def to_sql(
    collection: Collection,
    expression: str,
    lang: str,
    *,
    max_length: int = 20_000,
    max_depth: int = 30,
    max_nodes: int = 500,
    max_vertices: int = 100_000,
) -> tuple[str, dict[str, Any]]:
    """A CQL2 filter (text or JSON) as SQL over the collection's row `t`, its values bound.

    pygeofilter parses the filter and turns it into a SQLAlchemy clause over the queryables
    (`geometry` is the collection's geometry, in CRS84); the clause compiles to SQL with named
    parameters, so no value is ever pasted into the statement."""
    if len(expression) > max_length:
        raise FilterInvalid(f"filter: longer than {max_length} characters (CQL2_MAX_LENGTH).")
    try:
        ast = _parse(expression, lang, max_depth, max_nodes)
    except FilterInvalid:
        raise
    except Exception as exc:  # lark, json and pygeofilter each raise their own
        raise FilterInvalid(f"filter: {str(exc).splitlines()[0]}") from None
    if isinstance(ast, bool):
        return ("TRUE" if ast else "FALSE"), {}
    types = {name: q.kind for name, q in collection.queryables.items()}
    _check(ast, types, max_nodes, max_vertices)
    mapping_ = {
        name: literal_column(collection.column(name), CQL2_TYPES[types[name]])
        for name in collection.queryables
    }
    mapping_["geometry"] = literal_column(collection.geometry, Geometry("GEOMETRY", srid=4326))
    try:
        clause = to_filter(ast, mapping_, undefined_as_null=False)
        compiled = clause.compile(
            dialect=psycopg2.dialect(paramstyle="named"), compile_kwargs={"render_postcompile": True}
        )
    except KeyError as exc:
        raise FilterInvalid(
            f"filter: {exc} is not a queryable of {collection.id}; see its /queryables."
        ) from None
    except Exception as exc:
        raise FilterInvalid(f"filter: {str(exc).splitlines()[0]}") from None
    # Parameter names are the columns' with a numbered suffix (t_land_status_1): they cannot meet
    # the page query's own (x0 ... cursor, limit).
    return str(compiled), {name: _bound(value) for name, value in compiled.params.items()}


def _bound(value: Any) -> Any:
    """A literal as the driver must send it: a decimal number as written (0.1 stays 0.1 against a
    numeric column, not 0.1000000000000000055...), a DATE as midnight UTC of that day."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value
