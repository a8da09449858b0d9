"""Entity tags: a strong ETag is a digest of the exact bytes of a representation."""

import hashlib


def strong(body: str | bytes) -> str:
    """SHA-256 (the CPU's own instructions make it about twice as fast as BLAKE2 on big pages),
    128 bits of it."""
    data = body.encode() if isinstance(body, str) else body
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def weak(body: bytes) -> str:
    return "W/" + strong(body)


def parse_list(header: str) -> list[str]:
    """`"a", W/"b", *` -> ['"a"', 'W/"b"', '*'] (RFC 9110 §8.8.3 entity-tag lists)."""
    return [part.strip() for part in header.split(",") if part.strip()]
