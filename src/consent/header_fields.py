"""List-valued response header fields (`Vary`, `Cache-Control`) rewritten as one field.

HTTP reads several fields of such a header as one comma-separated list. A middleware that
changes the list must read every field, not only the first, and write one field back:
`list_field` takes them apart, `with_field` puts the one field where the first was.
"""

from __future__ import annotations

__all__ = ["list_field", "with_field"]

Headers = list[tuple[bytes, bytes]]


def list_field(headers: Headers, name: bytes) -> tuple[Headers, int, list[bytes]]:
    """`headers` (names in lower case) without their `name` fields but a placeholder where
    the first was (its index, -1 for none), and the elements of all of them in order,
    blanks around each dropped, empty ones left out."""
    out: Headers = []
    at = -1
    elements: list[bytes] = []
    for key, value in headers:
        if key != name:
            out.append((key, value))
            continue
        if at < 0:
            at = len(out)
            out.append((key, value))
        for element in value.split(b","):
            element = element.strip(b" \t")
            if element:
                elements.append(element)
    return out, at, elements


def with_field(headers: Headers, at: int, name: bytes, value: bytes) -> Headers:
    """`headers` from `list_field` with the one `name` field written at `at` (appended
    when there was none)."""
    if at < 0:
        headers.append((name, value))
    else:
        headers[at] = (name, value)
    return headers
