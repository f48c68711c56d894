"""The layers of the house: engines import nothing above them and never Qt; the shared modules are Qt-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

STUDIO = Path(__file__).resolve().parents[1] / "studio"


def _imports(path: Path) -> list[str]:
    """Every module a file imports, relative imports resolved, lazy (in-function) imports included."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(STUDIO.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names if mod in ("studio", "studio.engines")]
    return out


ENGINE_FILES = sorted((STUDIO / "engines").rglob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(STUDIO)))
def test_an_engine_module_imports_nothing_above_the_engines_and_no_qt(path):
    wrong = [m for m in _imports(path)
             if (m == "studio" or m.startswith("studio.")) and not m.startswith("studio.engines")
             or m.startswith(("PySide6", "shiboken6"))]
    assert not wrong, f"{path.relative_to(STUDIO)} imports {wrong}"


def test_the_shared_layer_never_imports_the_ui():
    shared = [p for p in STUDIO.rglob("*.py") if "ui" not in p.relative_to(STUDIO).parts[:1]]
    wrong = {str(p.relative_to(STUDIO)): m for p in shared for m in _imports(p)
             if m.startswith("studio.ui") and p.name != "app.py"}  # app.py is the app's entry point
    assert not wrong


def test_document_models_and_the_command_line_load_without_qt():
    code = ("import sys\n"
            "import studio.cli, studio.harmonize_document, studio.latent_document, studio.paths, studio.animation\n"
            "import studio.generators, studio.recipe, studio.compositing\n"
            "from studio.cli import build_parser\n"
            "build_parser()\n"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'studio.ui'))]\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_app_and_the_cli_share_one_demo_folder(monkeypatch, tmp_path):
    from studio import paths

    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "c"))
    assert paths.demo_dir() == tmp_path / "c" / "demo"
    app_source = (STUDIO / "ui" / "main_window.py").read_text()
    cli_source = (STUDIO / "commands" / "stylize.py").read_text()
    assert "demo_dir()" in app_source and "demo_dir()" in cli_source
