"""The documentation stays true to the code: its policies validate, its error messages and
cookie sizes are the real ones, and every middleware option is documented."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent import ConsentMiddleware, ConsentState, Policy, PolicyError, load_policy
from consent.signing import ConsentCodec
from consent.state import Action

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
SECRET = "docs-secret-key-0123456789abcdef-0123456789"

# A fence may be indented (inside tabs or admonitions); its body carries the same indent.
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`\n]*)\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    """One fenced code block of a documentation page."""

    page: str
    line: int
    lang: str
    info: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of `page`, in order, with their indent removed."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent = match["indent"]
        lines = match["body"].splitlines(keepends=True)
        body = "".join(line.removeprefix(indent) for line in lines)
        info = match["info"].strip()
        lang = info.split()[0] if info else ""
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page.name, line, lang, info, body))
    return found


PAGES = sorted(DOCS.glob("*.md"))
ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]
POLICY_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "toml" and "[[categories]]" in b.body]
VALID_POLICIES = [b for b in POLICY_BLOCKS if "invalid" not in b.info]
INVALID_POLICIES = [b for b in POLICY_BLOCKS if "invalid" in b.info]
PYTHON_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "python"]


def test_docs_have_policy_examples() -> None:
    """Guards the tests below against a fence pattern that silently matches nothing."""
    assert len(VALID_POLICIES) >= 4
    assert INVALID_POLICIES
    assert {b.page for b in VALID_POLICIES} >= {"getting-started.md", "policy.md"}


@pytest.mark.parametrize("block", VALID_POLICIES, ids=[b.where for b in VALID_POLICIES])
def test_documented_policy_is_valid(block: Block) -> None:
    Policy.model_validate(tomllib.loads(block.body))


@pytest.mark.parametrize("block", INVALID_POLICIES, ids=[b.where for b in INVALID_POLICIES])
def test_documented_policy_error_is_the_real_message(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy shown as invalid is followed by the exact message `load_policy` gives."""
    following = ALL_BLOCKS[ALL_BLOCKS.index(block) + 1]
    assert following.page == block.page and following.lang == "text"
    (tmp_path / "consent.toml").write_text(block.body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as raised:
        load_policy("consent.toml")
    assert str(raised.value) == following.body.strip()


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.where for b in PYTHON_BLOCKS])
def test_documented_python_is_valid_syntax(block: Block) -> None:
    ast.parse(block.body, filename=block.where)


def test_every_middleware_option_is_documented() -> None:
    text = (DOCS / "middleware.md").read_text(encoding="utf-8")
    parameters = inspect.signature(ConsentMiddleware.__init__).parameters
    options = [name for name in parameters if name not in ("self", "app")]
    assert "secret_key" in options
    missing = [name for name in options if f"`{name}`" not in text]
    assert missing == []


# --- the cookie sizes stated in docs/cookie.md ---------------------------------------------


def _synthetic(categories: int, services: int) -> Policy:
    return Policy.model_validate(
        {
            "categories": [
                {"id": f"c{i}", "title": "C", "required": i == 0} for i in range(categories)
            ],
            "services": [
                {"id": f"s{i}", "category": f"c{i % categories}", "title": "S"}
                for i in range(services)
            ],
        }
    )


def _example() -> Policy:
    return load_policy(ROOT / "examples" / "consent.toml")


SIZE_ROWS: dict[str, tuple[Callable[[], Policy], Action]] = {
    "the example site (3 categories, 6 services)": (_example, "accept_all"),
    "the example site, everything refused": (_example, "reject_all"),
    "10 categories, 30 services": (lambda: _synthetic(10, 30), "accept_all"),
    "64 categories, 256 services": (lambda: _synthetic(64, 256), "accept_all"),
    "256 categories, 256 services (the most a policy may have)": (
        lambda: _synthetic(256, 256),
        "accept_all",
    ),
}


def _cookie_length(policy: Policy, action: Action) -> int:
    state = ConsentState.from_choice(
        policy,
        action,
        issued_at=datetime(2026, 11, 28, tzinfo=UTC),
        receipt_id="A" * 22,
    )
    return len(ConsentCodec(policy, SECRET).encode(state))


def test_documented_cookie_sizes_are_measured() -> None:
    text = (DOCS / "cookie.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| ([^|]+?) \| (\d+) characters \|$", text, re.MULTILINE))
    assert set(rows) == set(SIZE_ROWS)
    for label, (make, action) in SIZE_ROWS.items():
        assert int(rows[label]) == _cookie_length(make(), action), label


def test_every_test_the_threat_table_names_exists() -> None:
    """docs/security.md proves each defence with named tests (`file::function` under
    tests/): each must be a test function there, so that a renamed or deleted test cannot
    leave a threat unproved in the table."""
    text = (DOCS / "security.md").read_text()
    named = set(re.findall(r"`((?:browser/)?test_\w+\.py)::(\w+)`", text))
    assert len(named) > 40
    missing = []
    for file, function in sorted(named):
        tree = ast.parse((ROOT / "tests" / file).read_text())
        functions = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if function not in functions:
            missing.append(f"{file}::{function}")
    assert missing == []
