"""The layers point one way (README, "Layout"): the ground floor (the contract: geometry, codecs,
architecture, description, naming, register map, bit-exact model, strict parsing, atomic
output) imports nothing above it; training, rtl_wrappers, tmr and verif stand on it; the
asicgen writers and the CLI sit on top. Imports inside functions count too, and no two
modules import each other, directly or round a circle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("asicgen", "training", "rtl_wrappers", "tmr", "verif")
#: the ground floor: the package asicgen.core, and asicgen's own __init__ (the version)
GROUND_PACKAGE = "asicgen.core"
#: the packages standing on the ground floor; the rest of asicgen sits on top of them
MIDDLE = ("training", "rtl_wrappers", "tmr", "verif")


def in_ground_floor(module: str) -> bool:
    return module in ("asicgen", GROUND_PACKAGE) or module.startswith(GROUND_PACKAGE + ".")


def layer(module: str) -> int:
    if in_ground_floor(module):
        return 0
    return 1 if module.split(".")[0] in MIDDLE else 2


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports() -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in its file (`from a import b` counts as
    a.b when that is a module, else as a)."""
    files = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                            for a in node.names}
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def test_the_ground_floor_holds_the_contract():
    ground = {m for m in project_imports() if in_ground_floor(m)}
    for module in ("arch", "design", "geometry", "codec", "naming", "regmap", "golden", "weights", "raw"):
        assert f"{GROUND_PACKAGE}.{module}" in ground


def test_no_import_points_up():
    upward = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
              for m, targets in sorted(project_imports().items())
              for t in sorted(targets) if layer(t) > layer(m)]
    assert not upward, "\n".join(upward)


#: all that the TMR pass may use of asicgen: generic utilities, nothing of the generated design
TMR_MAY_USE = frozenset({"asicgen.core.raw", "asicgen.core.atomic", "asicgen.core.render"})


def test_tmr_knows_nothing_of_the_generated_design():
    """tmr/ hardens any RTL: of asicgen it imports only the strict parsing, atomic output and
    stamps, never the design, register map or names of the IP asicgen generates."""
    uses = [f"{m} imports {t}" for m, targets in sorted(project_imports().items()) if m.split(".")[0] == "tmr"
            for t in sorted(targets) if t.split(".")[0] == "asicgen" and t not in TMR_MAY_USE]
    assert not uses, "\n".join(uses)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_circles_between_modules_or_packages():
    """Between modules, and between the ground floor and the packages (apart from their ground floor
    modules): training, rtl_wrappers, tmr and verif never lean on each other both ways."""
    graph = project_imports()
    assert circles(graph) == []

    def part(module: str) -> str:
        return "ground floor" if in_ground_floor(module) else module.split(".")[0]

    parts: dict[str, set[str]] = {part(m): set() for m in graph}
    for module, targets in graph.items():
        parts[part(module)] |= {part(t) for t in targets} - {part(module)}
    assert circles(parts) == []


#: what an import inside a function may delay: the libraries that take seconds to import
HEAVY = frozenset({"tensorflow", "qkeras", "hls4ml", "matplotlib"})
#: a standard-library module missing from older Pythons, with its PyPI back-port
VERSION_FALLBACKS = frozenset({"tomllib", "tomli"})


def top_level_imports(path: Path) -> set[str]:
    """The modules a file imports when it is loaded (not those inside functions)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(inner, ast.Import):
                names |= {alias.name for alias in inner.names}
            elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                names |= {inner.module} | {f"{inner.module}.{a.name}" for a in inner.names}
    return names


def loads_heavy(module: str, files: dict[str, Path], seen: set[str] | None = None) -> bool:
    """Whether importing `module` loads a heavy library, directly or through project modules."""
    if module.split(".")[0] in HEAVY:
        return True
    seen = set() if seen is None else seen
    if module not in files or module in seen:
        return False
    seen.add(module)
    return any(loads_heavy(name, files, seen) for name in top_level_imports(files[module]))


def deferred_imports(files: dict[str, Path]) -> list[tuple[str, int, str]]:
    """(module, line, imported module) for every import inside a function."""
    found = []
    for module, path in sorted(files.items()):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [(module, inner.lineno, alias.name) for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                    found += [(module, inner.lineno, inner.module)]
    return found


def project_files() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def test_imports_inside_functions_only_delay_heavy_libraries():
    """An import inside a function delays TensorFlow (or QKeras, hls4ml, matplotlib) for start-up
    time; any other one belongs at the top of the file."""
    files = project_files()
    needless = [f"{files[m].relative_to(ROOT)}:{line}: {name}" for m, line, name in deferred_imports(files)
                if name not in VERSION_FALLBACKS and not loads_heavy(name, files)]
    assert not needless, "imports inside functions that delay nothing heavy:\n" + "\n".join(needless)


def test_the_checks_can_fail():
    """A made-up graph with a circle and an upward import is caught."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("asicgen.core.design") < layer("verif.seu") < layer("asicgen.cli")
    files = project_files()
    assert loads_heavy("training.train", files) and not loads_heavy("asicgen.core.design", files)
