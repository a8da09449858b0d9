"""Entity tags: a strong ETag is a digest of the exact bytes of a representation."""

import hashlib


def strong(body: str | bytes) -> str:
    data = body.encode() if isinstance(body, str) else body
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def weak(body: bytes) -> str:
    return "W/" + strong(body)


def parse_list(header: str) -> list[str]:
    """`"a", W/"b", *` -> ['"a"', 'W/"b"', '*'] (RFC 9110 §8.8.3 entity-tag lists)."""
    return [part.strip() for part in header.split(",") if part.strip()]
