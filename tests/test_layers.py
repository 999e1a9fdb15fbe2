"""The library's lower layers only import downward: data, losses, modeling, postprocess, metrics and optim never
import the pipeline, training, config loading, weights, export, engines or tools (issue 20, clean layers). Read
from the source (every import statement, also inside functions), so a lazy import inside a function counts too."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "paddle_pp"
LOWER_LAYERS = ("data", "losses", "modeling", "postprocess", "metrics", "optim")
# Modules above them (or beside, with side effects): what a lower layer must never import.
UPPER = ("pipeline", "training", "config", "ocr", "weights", "tools", "model_dir", "export", "engine", "slim", "lite",
         "train", "eval", "cli", "dataset_tools")
# Known until its move lands (another change of issue 20 takes the dictionary path out of pipeline).
KNOWN_EXCEPTIONS: set = set()   # none: add one only with a reason


def imported_modules(path: Path, root: Path = PACKAGE):
    """Absolute names of every module `path` imports (relative imports resolved against its package, `root`
    being paddle_pp)."""
    package = ["paddle_pp"] + list(path.relative_to(root).parent.parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)   # `from paddle_pp import pipeline`


def upward_imports(root: Path = PACKAGE):
    found = []
    for layer in LOWER_LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            for module in imported_modules(path, root):
                parts = module.split(".")
                if parts[0] == "paddle_pp" and len(parts) > 1 and parts[1] in UPPER:
                    found.append((str(path.relative_to(root)), ".".join(parts[:2])))
    return sorted(set(found))


def test_lower_layers_never_import_upward():
    unexpected = [hit for hit in upward_imports() if hit not in KNOWN_EXCEPTIONS]
    assert not unexpected, f"upward imports (a lower layer must not import these): {unexpected}"


def test_the_import_scan_sees_relative_and_lazy_imports(tmp_path):
    """The scan itself, on a made-up package: a relative import two levels up inside a function, an absolute
    one, and `from paddle_pp import X` are found; a downward import is not."""
    probe = tmp_path / "modeling" / "heads" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from ..backbones import x\n"
                     "def f():\n    from ...training import trainer\n    import paddle_pp.weights\n"
                     "from paddle_pp import pipeline\n", encoding="utf-8")
    assert upward_imports(tmp_path) == [("modeling/heads/probe.py", "paddle_pp.pipeline"),
                                        ("modeling/heads/probe.py", "paddle_pp.training"),
                                        ("modeling/heads/probe.py", "paddle_pp.weights")]


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_every_lower_layer_exists(layer):
    assert (PACKAGE / layer / "__init__.py").is_file()   # a renamed package must not make the scan pass vacuously
