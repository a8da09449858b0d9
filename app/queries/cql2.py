"""CQL2 filters (OGC API - Features, Part 3) as SQL with bound parameters.

pygeofilter parses the filter and turns it into a SQLAlchemy clause over a collection's
queryables; the clause compiles to SQL with named parameters, so no value is ever pasted into a
statement.
"""

import json
from typing import Any

from geoalchemy2 import Geometry
from pygeofilter import ast as cql_ast
from pygeofilter.backends.sqlalchemy import to_filter
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from sqlalchemy import Float, Text, literal_column
from sqlalchemy.dialects.postgresql import psycopg2

from app.queries.ogc import Collection

CQL2_TYPES = {"string": Text, "number": Float}


class FilterInvalid(ValueError):
    """A filter that does not parse, or names a property that cannot be filtered."""


def _check_types(node: Any, types: dict[str, str]) -> None:
    """Refuse a comparison of a property with a value of the wrong type (`area_ha > 'x'`)."""
    lhs = getattr(node, "lhs", None)
    if isinstance(lhs, cql_ast.Attribute) and lhs.name in types:
        values = [getattr(node, name, None) for name in ("rhs", "low", "high")] + list(
            getattr(node, "sub_nodes", [])
        )
        for value in values:
            if value is None or isinstance(value, cql_ast.Node):
                continue
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if (types[lhs.name] == "number") != numeric:
                raise FilterInvalid(f"filter: {lhs.name} is a {types[lhs.name]}; {value!r} is not.")
    for child in node.get_sub_nodes() if isinstance(node, cql_ast.Node) else []:
        _check_types(child, types)


def to_sql(collection: Collection, expression: str, lang: str) -> tuple[str, dict[str, Any]]:
    """A CQL2 filter (text or JSON) as SQL over the collection's row `t`, its values bound.

    pygeofilter parses the filter and turns it into a SQLAlchemy clause over the queryables
    (`geometry` is the collection's geometry, in CRS84); the clause compiles to SQL with named
    parameters, so no value is ever pasted into the statement."""
    try:
        ast = parse_cql2_json(json.loads(expression)) if lang == "cql2-json" else parse_cql2_text(expression)
    except Exception as exc:  # lark, json and pygeofilter each raise their own
        raise FilterInvalid(f"filter: {str(exc).splitlines()[0]}") from None
    _check_types(ast, {name: q.schema["type"] for name, q in collection.queryables.items()})
    mapping = {
        name: literal_column(collection.column(name), CQL2_TYPES[q.schema["type"]])
        for name, q in collection.queryables.items()
    }
    mapping["geometry"] = literal_column(collection.geometry, Geometry("GEOMETRY", srid=4326))
    try:
        clause = to_filter(ast, mapping, undefined_as_null=False)
    except KeyError as exc:
        raise FilterInvalid(
            f"filter: {exc} is not a queryable of {collection.id}; see its /queryables."
        ) from None
    except Exception as exc:
        raise FilterInvalid(f"filter: {str(exc).splitlines()[0]}") from None
    compiled = clause.compile(
        dialect=psycopg2.dialect(paramstyle="named"), compile_kwargs={"render_postcompile": True}
    )
    # Parameter names are the columns' with a numbered suffix (t_land_status_1): they cannot meet
    # the page query's own (x0 ... cursor, limit).
    return str(compiled), dict(compiled.params)
