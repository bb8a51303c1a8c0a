"""Packaging step: a minified copy of each browser asset, made whenever the package is built.

Hatchling runs `MinifyAssets` for every wheel, editable ones included (`pip install -e .`,
which `make` runs), with rjsmin and rcssmin from `[build-system] requires`. It writes, next
to each readable source in `src/consent/static/` (`consent.js`, `consent.css`, `gcm.js`),
its minified copy (`consent.min.js`, ...) and `minified.json`, which names each copy and the
SHA-256 of the source it was made from; `consent.assets` reads that list at start-up to
serve the copies. None of these files is committed (.gitignore): they are rebuilt from the
sources every time.

After editing an asset in a source tree, rebuild the copies with `python hatch_build.py`
(the dev extra installs both minifiers).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import rcssmin
import rjsmin
from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

STATIC = Path(__file__).resolve().parent / "src" / "consent" / "static"
MANIFEST = "minified.json"


def minify(name: str, source: str) -> str:
    """The minified form of the asset `name` (a .js or .css file) whose text is `source`.

    Both minifiers only drop comments and white space; names stay as written, so the
    minified script reads like the source, on fewer lines.
    """
    if name.endswith(".css"):
        return str(rcssmin.cssmin(source))
    return str(rjsmin.jsmin(source))


def copy_name(name: str) -> str:
    """`consent.js` -> `consent.min.js`."""
    stem, _, extension = name.rpartition(".")
    return f"{stem}.min.{extension}"


def build_assets(static: Path = STATIC) -> list[Path]:
    """Write the minified copy of every asset in `static`, and the list of them.

    Returns:
        The files written, the list last.
    """
    manifest: dict[str, dict[str, str]] = {}
    written: list[Path] = []
    sources = sorted(
        path
        for path in static.iterdir()
        if path.suffix in (".js", ".css") and not path.stem.endswith(".min")
    )
    for path in sources:
        source = path.read_bytes()
        target = static / copy_name(path.name)
        target.write_bytes(minify(path.name, source.decode("utf-8")).encode("utf-8"))
        written.append(target)
        manifest[path.name] = {
            "file": target.name,
            "source_sha256": hashlib.sha256(source).hexdigest(),
        }
    listing = static / MANIFEST
    listing.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    written.append(listing)
    return written


class MinifyAssets(BuildHookInterface[BuilderConfig]):
    """The build hook: minified assets for every wheel (standard and editable)."""

    PLUGIN_NAME = "minify-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the copies in the tree being packaged, before its files are collected."""
        static = Path(self.root) / "src" / "consent" / "static"
        for path in build_assets(static):
            # Ignored by git, so hatchling would leave them out of the wheel: force them in.
            build_data["artifacts"].append(path.relative_to(self.root).as_posix())


if __name__ == "__main__":
    for path in build_assets():
        print(path)
