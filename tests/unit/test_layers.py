"""The layers depend one way: app/upstream/ (the widget API) knows nothing of the accounts
layer above it, nor of the web framework. The credential an upstream call needs is an
upstream type (app/upstream/credential.py); accounts/ builds it and passes callbacks in."""
import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
UPSTREAM = sorted((APP / "upstream").glob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module `path` imports, absolute; `from pkg import name` counts pkg and pkg.name
    (name may be a module), and imports inside functions count too."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_check_sees_relative_imports():
    # The accounts layer does import upstream; the same parser must see it, or the checks
    # below would pass for want of looking.
    assert "app.upstream.rotation" in imported(APP / "accounts" / "renewal.py")
    assert any(name.startswith("app.upstream") for name in imported(APP / "accounts" / "account.py"))


@pytest.mark.parametrize("path", UPSTREAM, ids=lambda path: path.name)
def test_upstream_imports_nothing_from_accounts(path):
    wrong = sorted(name for name in imported(path) if name == "app.accounts" or name.startswith("app.accounts."))
    assert not wrong, f"{path.name} imports {wrong}: upstream/ must not depend on accounts/"


@pytest.mark.parametrize("path", UPSTREAM, ids=lambda path: path.name)
def test_upstream_does_not_import_flask(path):
    wrong = sorted(name for name in imported(path) if name.split(".")[0] == "flask")
    assert not wrong, f"{path.name} imports {wrong}: upstream/ is no web code"


def source_of(name: str) -> Path | None:
    """The file of module `name` under app/, or None (a name imported from a module, or not ours)."""
    parts = name.split(".")
    if parts[0] != "app":
        return None
    base = APP.parent.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def test_nothing_upstream_reaches_leads_to_accounts():
    # Not only directly: a module upstream/ imports (config, logs, the store...) importing
    # accounts/ would close the cycle again one step removed. (Running `import app.upstream.x`
    # also runs app/__init__.py, the composition root; that file wires the layers together and
    # is no dependency of upstream's code, so the walk follows import statements only.)
    seen, todo, path_to = set(), list(UPSTREAM), {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported(path):
            target = source_of(name)
            if target is not None and target not in seen and target != APP / "__init__.py":
                path_to.setdefault(target, path)
                todo.append(target)
    wrong = {str(path.relative_to(APP.parent)): str(path_to[path].relative_to(APP.parent))
             for path in seen if (APP / "accounts") in path.parents}
    assert not wrong, f"upstream/ reaches accounts/ (module: imported by) {wrong}"
