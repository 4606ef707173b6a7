"""The rules of docs/architecture.md, checked on the source: the core never imports a plugin,
no module of the product grows past 400 lines, the top of dreamjax/ stays small."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
CORE = ROOT / "dreamjax"
PLUGIN_PACKAGES = sorted(p.name for p in ROOT.glob("plugins/*/*") if (p / "__init__.py").is_file())


def _imported(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            yield from (arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str))


def test_the_core_never_imports_a_plugin():
    assert "dreamjax_onnx" in PLUGIN_PACKAGES
    wrong = {}
    for path in sorted(CORE.rglob("*.py")):
        names = [name for name in _imported(ast.parse(path.read_text())) if name.split(".")[0] in PLUGIN_PACKAGES]
        if names:
            wrong[str(path.relative_to(ROOT))] = names
    assert not wrong, f"the core imports plugins (publish through an entry point instead): {wrong}"


def test_no_product_module_is_over_400_lines():
    product = [*CORE.rglob("*.py"), *(p for name in PLUGIN_PACKAGES for p in ROOT.glob(f"plugins/*/{name}/**/*.py"))]
    long = {str(p.relative_to(ROOT)): n for p in product if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these modules by role: {long}"


def test_the_top_of_the_core_stays_small():
    top = sorted(p.name for p in CORE.glob("*.py"))
    assert len(top) <= 12, f"{len(top)} modules at the top of dreamjax/: {top}; move some into a subpackage"
