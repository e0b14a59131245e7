"""The import contract: each layer of `kit/` imports only the layers below it.

    cli → web → radio → exchange → deploy → core → storage → crypto → mesh
    sim: the simulated radio, at the edge; it may use mesh's airtime arithmetic only.

Imports inside functions count too. The README's "Architecture" section draws the same.
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

KIT = Path(__file__).resolve().parents[1] / "kit"
LAYERS = ["cli", "web", "radio", "exchange", "deploy", "core", "storage", "crypto", "mesh"]
# Third-party packages a layer must never import, whatever it may import from kit.
FORBIDDEN = {
    "core": {"flask", "flask_wtf", "meshtastic", "pubsub", "serial", "waitress"},
    "storage": {"flask", "flask_wtf", "meshtastic", "pubsub", "serial", "waitress"},
    "crypto": {"flask", "flask_wtf", "meshtastic", "pubsub", "serial", "waitress", "sqlite_utils"},
    "exchange": {"flask", "flask_wtf", "meshtastic", "pubsub", "serial", "waitress"},
    # deploy reads the meshtastic protobufs' field names to render radio YAMLs (no radio I/O)
    "deploy": {"flask", "flask_wtf", "pubsub", "serial", "waitress"},
    "web": {"meshtastic", "pubsub", "serial"},
}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    module = ".".join(path.relative_to(KIT.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from kit.x import y` may import the module kit.x.y
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names
                      if (KIT.parent / (target + "." + alias.name).replace(".", "/")).with_suffix(".py").exists()]
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "kit" and len(parts) > 1 else None


def violations() -> list[str]:
    problems = []
    for path in sorted(KIT.rglob("*.py")):
        own = layer_of(".".join(path.relative_to(KIT.parent).with_suffix("").parts))
        if own not in (*LAYERS, "sim"):
            continue  # kit/__init__.py, kit/__main__.py
        for line, target in imports(path):
            where = f"{path.relative_to(KIT.parent)}:{line} imports {target}"
            other = layer_of(target)
            top = target.split(".")[0]
            if other is not None and other != own:
                if own == "sim":
                    allowed = other == "mesh"
                elif other == "sim":
                    allowed = own == "cli"
                else:
                    allowed = LAYERS.index(other) > LAYERS.index(own)
                if not allowed:
                    problems.append(where)
            elif own == "mesh" and top != "kit" and top not in sys.stdlib_module_names and top != "__future__":
                problems.append(where + " (mesh: standard library only)")
            elif top in FORBIDDEN.get(own, ()):
                problems.append(where + f" ({own} must not import {top})")
    return problems


def test_each_layer_imports_only_the_layers_below_it():
    assert violations() == []


def test_the_contract_catches_a_violation(tmp_path, monkeypatch):
    """The checker itself can fail: a mesh module importing sqlite_utils and a core
    module importing flask are both reported."""
    fake = tmp_path / "kit"
    (fake / "mesh").mkdir(parents=True)
    (fake / "core").mkdir()
    (fake / "mesh" / "bad.py").write_text("import sqlite_utils\n")
    (fake / "core" / "bad.py").write_text("def f():\n    from flask import g\n    from kit.web import app\n")
    monkeypatch.setattr(sys.modules[__name__], "KIT", fake)
    found = violations()
    assert any("mesh/bad.py:1 imports sqlite_utils" in p for p in found)
    assert any("core/bad.py:2 imports flask" in p for p in found)
    assert any("core/bad.py:3 imports kit.web" in p for p in found)


def test_kit_root_holds_only_packages():
    loose = sorted(p.name for p in KIT.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))
    assert loose == []


def test_no_two_modules_share_a_name():
    names = Counter(p.stem for p in KIT.rglob("*.py") if p.stem not in ("__init__", "__main__"))
    names.update(p.name for p in KIT.rglob("*") if p.is_dir() and p.name not in ("__pycache__",)
                 and (p / "__init__.py").exists())
    assert [name for name, count in names.items() if count > 1] == []
