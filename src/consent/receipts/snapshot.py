"""The snapshot of what visitors were shown: stored once per digest, named by receipts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from consent.policy import Policy

__all__ = ["Snapshot"]

# Templates that compliance staff see, never visitors: they are no part of a snapshot.
_STAFF_ONLY = frozenset({"report.html", "scan.html", "_report.css"})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What visitors were shown and asked under one configuration: the policy with all its
    texts, the interface strings, and hashes of the banner's templates, script and styles.

    Stored once per digest; every receipt names the digest of the snapshot it was made
    under (EDPB 05/2020 para 108: "a copy of the information that was presented")."""

    digest: str
    revision: int
    fingerprint: str
    document: Mapping[str, Any] = field(repr=False, compare=False)
    canonical: str = field(default="", repr=False, compare=False)

    @classmethod
    def of(cls, policy: Policy) -> Snapshot:
        """The snapshot of `policy` with this installation's interface."""
        from consent import __version__
        from consent.i18n import UI_STRINGS

        package = resources.files("consent")
        assets = {}
        for folder in ("templates/consent", "static"):
            for item in sorted(package.joinpath(folder).iterdir(), key=lambda i: i.name):
                if item.is_file() and item.name not in _STAFF_ONLY:
                    digest = hashlib.sha256(item.read_bytes()).hexdigest()
                    assets[f"{folder}/{item.name}"] = digest
        document = {
            "library": f"asgi-consent {__version__}",
            "policy": policy.declaration(),
            "interface": {lang: dict(strings) for lang, strings in UI_STRINGS.items()},
            "assets": assets,
        }
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Snapshot:
        """A snapshot of a stored document; the digest is computed, never trusted."""
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        policy = document["policy"]
        return cls(
            digest=hashlib.sha256(canonical.encode()).hexdigest(),
            revision=int(policy.get("revision", 0)),
            fingerprint=str(policy["fingerprint"]),
            document=document,
            canonical=canonical,
        )

    def to_json(self) -> str:
        """The document as canonical JSON (what the digest covers)."""
        return self.canonical or json.dumps(self.document, sort_keys=True, separators=(",", ":"))
