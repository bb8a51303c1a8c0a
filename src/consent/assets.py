"""The browser assets under `{path}/static/`: which file each one sends, and its version.

The package holds the readable sources (`consent.js`, `consent.css`, `gcm.js`) and, made
when the package is built (`hatch_build.py` at the repository's root), a minified copy of
each, listed in `minified.json` with the SHA-256 of the source it was made from. A visitor
gets the minified copy.

When a copy is missing, or was made from another version of its source (a source tree put
on `PYTHONPATH` without being built, or an asset edited since the last build), the readable
source is sent instead, and a warning at start-up says how to rebuild: the page works the
same, only the download is larger. The size test (tests/test_static.py) fails in that case,
so a check cannot pass on the unminified script.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import NamedTuple

__all__ = ["ASSETS", "Asset", "served_assets"]

logger = logging.getLogger("consent")

ASSETS = ("consent.js", "consent.css", "gcm.js")
MANIFEST = "minified.json"


class Asset(NamedTuple):
    """One browser asset as it is served."""

    file: str
    """The file under `consent/static/` sent for the asset's URL."""
    version: str
    """The first 10 hex digits of the SHA-256 of the bytes sent (the URL's `?v=`)."""


def served_assets(static: Traversable | None = None) -> dict[str, Asset]:
    """Which file each asset's URL sends: its minified copy when it is up to date.

    Read once at start-up; the files do not change while the process runs.

    Args:
        static: the folder of the assets; the package's `consent/static` by default.
    """
    if static is None:
        static = files("consent").joinpath("static")
    try:
        listing = json.loads(static.joinpath(MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        listing = {}
    served: dict[str, Asset] = {}
    stale: list[str] = []
    for name in ASSETS:
        source = static.joinpath(name).read_bytes()
        entry = listing.get(name) if isinstance(listing, dict) else None
        file = name
        body = source
        if (
            isinstance(entry, dict)
            and entry.get("source_sha256") == hashlib.sha256(source).hexdigest()
            and isinstance(entry.get("file"), str)
            and static.joinpath(entry["file"]).is_file()
        ):
            file = entry["file"]
            body = static.joinpath(file).read_bytes()
        else:
            stale.append(name)
        served[name] = Asset(file, hashlib.sha256(body).hexdigest()[:10])
    if stale:
        logger.warning(
            "no up-to-date minified copy of %s: serving the readable source; "
            "build them with `pip install .` or `python hatch_build.py`",
            ", ".join(stale),
        )
    return served
