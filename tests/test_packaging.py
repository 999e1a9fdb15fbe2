"""The package as users install it: package data complete, no repository paths, the `paddle-pp` command, thin shells.

The wheel itself is built and installed into a clean venv outside the checkout by .ci/check_wheel.sh.
"""
from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "paddle_pp"
TOOL_DIRS = ("deploy", "slim", "dataset_tools")


def tracked_files(under: Path):
    out = subprocess.run(["git", "ls-files", "-z", str(under)], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.stdout.split("\0") if p]


def python_files(*dirs: str):
    return [p for d in dirs for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts]


def test_package_data_covers_every_non_python_file():
    """A file the library reads but pyproject.toml does not ship would only work from a clone."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["paddle_pp"]
    shipped = {p.resolve() for pattern in patterns for p in PACKAGE.glob(pattern) if p.is_file()}
    data = [p for p in tracked_files(PACKAGE) if p.suffix != ".py" and p.is_file()]
    assert data, "no package data found"
    missing = [str(p.relative_to(ROOT)) for p in data if p.resolve() not in shipped]
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"


@pytest.mark.parametrize("folder", ("paddle_pp",) + TOOL_DIRS)
def test_no_sys_path_manipulation(folder):
    offenders = [str(p.relative_to(ROOT)) for p in python_files(folder)
                 if re.search(r"sys\.path\.(insert|append)|PYTHONPATH", p.read_text(encoding="utf-8"))]
    assert not offenders


def test_library_never_looks_at_the_repository_layout():
    """Package files are found through paddle_pp.resources (importlib.resources), never via __file__ parents."""
    pattern = re.compile(r"__file__\)?\.resolve\(\)\.(parents\[\d\]|parent\.parent)")
    offenders = [str(p.relative_to(ROOT)) for p in python_files("paddle_pp") if pattern.search(p.read_text())]
    assert not offenders


@pytest.mark.parametrize("shell", python_files(*TOOL_DIRS), ids=lambda p: str(p.relative_to(ROOT)))
def test_tool_scripts_are_thin_shells(shell):
    """deploy/, slim/ and dataset_tools/ scripts only call main() of a package module."""
    tree = ast.parse(shell.read_text(encoding="utf-8"))
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert len(imports) == 1 and imports[0].module.startswith("paddle_pp.") and imports[0].names[0].name == "main"
    module = importlib.import_module(imports[0].module)
    assert callable(module.main)
    assert len(shell.read_text().splitlines()) <= 10


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paddle_pp", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_version_and_usage():
    from paddle_pp import __version__

    assert run_cli("--version").stdout.strip() == f"paddle-pp {__version__}"
    usage = run_cli("--help")
    assert usage.returncode == 0 and "ocr" in usage.stdout and "lite setup" in usage.stdout
    unknown = run_cli("ocrr")
    assert unknown.returncode == 2 and "unknown command 'ocrr'" in unknown.stderr
    assert run_cli("lite", "nope").returncode == 2
    group = run_cli("lite", "-h")   # a group's tools with what each does
    assert group.returncode == 0 and group.stdout.startswith("usage: paddle-pp lite <tool>")
    assert "  simulate" in group.stdout and "  export" in group.stdout


def test_every_subcommand_has_a_main():
    from paddle_pp.cli import COMMANDS, GROUPS

    modules = [m for m, _ in COMMANDS.values()] + [m for tools in GROUPS.values() for m, _ in tools.values()]
    for name in modules:
        assert callable(importlib.import_module(name).main), name


def test_subcommand_help_names_the_subcommand():
    proc = run_cli("det", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: paddle-pp det")
    assert "--det_db_thresh" in proc.stdout


def test_lite_engine_never_creates_its_venv(tmp_path, monkeypatch):
    """Building a Lite predictor without the venv is a clear error naming the set-up command, not an install."""
    from paddle_pp.engine.lite import LiteNotSetUp, ensure_lite_venv

    monkeypatch.setenv("PADDLE_PP_LITE_VENV", str(tmp_path / "venv"))
    with pytest.raises(LiteNotSetUp, match="paddle-pp lite setup"):
        ensure_lite_venv()
    assert not (tmp_path / "venv").exists()


def _heading_anchors(markdown: Path) -> set:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_documentation_links_resolve():
    """Every relative link of the README and docs/ names a file that exists, and a #section that it has."""
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", link):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path) if path else page
            if not target.exists():
                broken.append(f"{page.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in _heading_anchors(target):
                broken.append(f"{page.name}: {link} (no such section)")
    assert not broken, "\n".join(broken)
