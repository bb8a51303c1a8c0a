"""The package's layers (docs/architecture.md), read from the source with `ast`.

Every module of `src/consent` belongs to one layer; a module may import the layers below
its own and the libraries its layer allows, nothing else. Imports under
`if TYPE_CHECKING:` are for the type checker only and do not count; imports inside a
function do (they run too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "consent"

# Layer -> its modules (a name ending in ".*" takes a package's modules too).
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (
        "consent.policy.*",
        "consent.state",
        "consent.signing",
        "consent.cookies",
        "consent.bounded_memo",
        "consent.header_fields",
        "consent.catalog",
        "consent.i18n",
        "consent.consent_mode",
        "consent.gating",
        "consent.gating.*",
        "consent._mime",
        "consent._charset",
        "consent._links",
        "consent.html_body",
        "consent.assets",
        "consent.enforce",
        "consent.origin",
        "consent.lint",
        "consent.variant",
    ),
    "receipts": ("consent.receipts.*",),
    "presentation": ("consent.render", "consent.declaration", "consent.report"),
    "web": (
        "consent.visit",
        "consent.site",
        "consent.etags",
        "consent.gated_response",
        "consent.responder",
        "consent.gpc",
        "consent.choices",
        "consent.endpoints",
        "consent.arrival",
        "consent.middleware",
        "consent.wsgi",
        "consent.wsgi_loop",
        "consent.wsgi_request",
        "consent.parts",
        "consent.jinja",
    ),
    # What one framework needs beyond the web layer, each in its own module (Django's and
    # FastAPI's own names are imported there only).
    "integrations": ("consent.fastapi", "consent.contrib", "consent.contrib.*"),
    "tools": ("consent.cli", "consent.cli_log", "consent.edge", "consent.scan.*"),
    "package": ("consent",),
}
ORDER = ["core", "receipts", "presentation", "web", "integrations", "tools"]
# The libraries each layer may import (besides the standard library and optional extras
# imported where they are used).
LIBRARIES = {
    "core": {"pydantic", "pydantic_core", "itsdangerous", "brotli"},
    "receipts": {"anyio", "psycopg", "psycopg_pool"},
    "presentation": {"jinja2", "markupsafe"},
    "web": {"starlette", "anyio", "jinja2", "markupsafe"},
    "integrations": {"starlette", "anyio", "jinja2", "markupsafe", "fastapi", "django"},
    "tools": {"starlette", "anyio", "jinja2", "markupsafe", "httpx", "playwright"},
}
# The optional frameworks, and the only modules that may import each.
INTEGRATIONS = {"fastapi": "consent.fastapi", "django": "consent.contrib.django", "flask": None}
FRAMEWORKS = {"starlette", "jinja2", "markupsafe", "anyio", "fastapi", "django", "flask"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    for layer, members in LAYERS.items():
        for member in members:
            if module == member or (member.endswith(".*") and module.startswith(member[:-1])):
                return layer
            if member.endswith(".*") and module == member[:-2]:
                return layer
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and the docs")


def runtime_imports(path: Path) -> set[str]:
    """The modules `path` imports when it runs (not those for the type checker only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import; write `from consent... import`")
            assert node.module is not None
            found.add(node.module)
            # `from consent import x` may name a submodule.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(tree)
    return found


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def own(imported: set[str]) -> set[str]:
    """The package's modules among `imported` (names of functions or classes dropped)."""
    return {name for name in imported if name in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_layer_and_those_below(module: str) -> None:
    layer = layer_of(module)
    imported = runtime_imports(MODULES[module])
    if layer == "package":
        return  # `consent/__init__.py` re-exports the public names of every layer
    allowed = set(ORDER[: ORDER.index(layer) + 1])
    for other in own(imported):
        other_layer = layer_of(other)
        if other_layer == "package" and other == "consent":
            # Only `__version__` may come from the package itself.
            continue
        assert other_layer in allowed, (
            f"{module} ({layer}) imports {other} ({other_layer}); the layers run "
            f"{' < '.join(ORDER)}: move the code, or the import under TYPE_CHECKING"
        )
    libraries = {name.split(".")[0] for name in imported} - {"consent"}
    forbidden = (libraries & FRAMEWORKS) - LIBRARIES[layer]
    assert not forbidden, f"{module} ({layer}) imports {sorted(forbidden)}"


def test_an_optional_framework_is_imported_only_by_its_own_module() -> None:
    """`import consent` works without FastAPI, Django or Flask installed: each is imported
    by its integration only (`consent.fastapi`, `consent.contrib.django`), Flask nowhere
    (WSGI is plain PEP 3333)."""
    for module, path in MODULES.items():
        libraries = {name.split(".")[0] for name in runtime_imports(path)}
        for framework, owner in INTEGRATIONS.items():
            if framework in libraries:
                assert owner is not None and (module == owner or module.startswith(owner + ".")), (
                    f"{module} imports {framework}"
                )


def test_the_core_imports_no_web_framework_or_template_engine() -> None:
    """Said separately, as DESIGN.md says it: the framework-free core (policy, state,
    signing, the gate, ...) imports neither starlette nor jinja2, even indirectly."""
    core = [m for m in MODULES if layer_of(m) == "core"]
    assert {"consent.policy", "consent.state", "consent.signing", "consent.gating"} <= set(core)
    for module in core:
        seen = {module}
        todo = [module]
        while todo:
            current = todo.pop()
            imported = runtime_imports(MODULES[current])
            bad = {name.split(".")[0] for name in imported} & {"starlette", "jinja2"}
            assert not bad, f"{module} imports {bad} (by way of {current})"
            for other in own(imported) - seen - {"consent"}:
                seen.add(other)
                todo.append(other)


def test_the_renderer_never_meets_a_request() -> None:
    """The one renderer knows no request: modules that import it import no Starlette
    request class; `consent.jinja` joins a request to the site's renderer."""
    for module, path in MODULES.items():
        imported = runtime_imports(path)
        if "consent.render" in imported:
            assert not {"starlette.requests", "starlette.websockets"} & imported, module


def test_no_module_is_over_400_lines() -> None:
    for module, path in MODULES.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{module} has {lines} lines: split it along its concepts"


def test_the_checks_see_an_import_that_breaks_a_rule(tmp_path: Path) -> None:
    """The reader of imports is not blind: it finds imports anywhere in a module but
    under TYPE_CHECKING."""
    source = tmp_path / "sample.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import starlette.requests\n"
        "if TYPE_CHECKING:\n"
        "    from jinja2 import Environment\n"
        "def late():\n"
        "    from consent.site import Site\n"
    )
    found = runtime_imports(source)
    assert "starlette.requests" in found and "consent.site" in found
    assert "jinja2" not in found
