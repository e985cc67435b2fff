"""C simulation of a generated HLS project: g++ + Algorithmic C headers vs the Python model.

The Algorithmic C headers (`ac_fixed.h`, `ac_int.h`) come from the installed
hls4ml package (Apache-2.0), or from ASICGEN_AC_INCLUDE.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.core import golden, naming
from asicgen.core.artefacts import HlsProject
from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet
from asicgen.hls import SOURCES, TB_SOURCE
from verif.vectors import VectorSet, read_table, write_vector_files

CXXFLAGS = ("-O1", "-std=c++11", "-Wall", "-Wno-unknown-pragmas", "-Wno-unused-label")


class CsimError(RuntimeError):
    """The C simulation could not be built or run."""


@dataclass(frozen=True)
class CsimResult:
    modules: int
    mismatches: int
    first_mismatches: list[str]
    compile_seconds: float
    run_seconds: float


def ac_include_dir() -> Path:
    override = os.environ.get("ASICGEN_AC_INCLUDE")
    if override:
        path = Path(override)
    else:
        try:
            import hls4ml
        except ImportError:
            raise CsimError("the Algorithmic C headers come from the hls4ml package, which is not "
                            "installed; install it or set ASICGEN_AC_INCLUDE") from None
        path = Path(hls4ml.__file__).parent / "templates" / "catapult" / "ac_types" / "include"
    if not (path / "ac_fixed.h").is_file():
        raise CsimError(f"{path}: no ac_fixed.h there (set ASICGEN_AC_INCLUDE to the ac_types include dir)")
    return path


def load_project(project: Path) -> tuple[Design, WeightSet]:
    found = HlsProject.open(Path(project))
    design = found.design
    hex_path = Path(project) / "data" / "weights.hex"
    image = read_hex(hex_path)
    weights = WeightSet.from_image(design, image)
    if weights.digest() != found.weights_sha256:
        raise ConfigError(f"{hex_path}: the image does not match the weights recorded in the manifest")
    return design, weights


def read_hex(path: Path) -> bytes:
    data = bytearray()
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    for number, line in enumerate(lines, start=1):
        text = line.split("//", 1)[0].strip()
        if not text:
            continue
        try:
            value = int(text, 16)
        except ValueError:
            raise ConfigError(f"{path}:{number}: not a hex byte: {text!r}") from None
        if not 0 <= value <= 0xFF:
            raise ConfigError(f"{path}:{number}: {text!r} is not a byte")
        data.append(value)
    return bytes(data)


def compile_testbench(project: Path, build_dir: Path) -> Path:
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise CsimError(f"C++ compiler {compiler!r} not found (set CXX)")
    binary = build_dir / naming.TESTBENCH
    cmd = [compiler, *CXXFLAGS, f"-I{ac_include_dir()}", f"-I{project / 'src'}", "-o", str(binary),
           *(str(project / s) for s in SOURCES), str(project / TB_SOURCE)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CsimError(f"compiling {project} failed:\n{proc.stderr[-4000:]}")
    return binary


def run_csim(project: Path, vectors: VectorSet | None = None, stream=None) -> CsimResult:
    """Build the project's testbench and compare it with the Python model on `vectors`
    (default: the project's own stimulus)."""
    stream = stream if stream is not None else sys.stderr  # looked up per call, see train_region
    project = Path(project)
    design, weights = load_project(project)
    with tempfile.TemporaryDirectory(prefix="asicgen-csim-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        print("[csim] compiling the C++ testbench (g++)", file=stream, flush=True)
        binary = compile_testbench(project, work)
        compile_seconds = time.perf_counter() - t0
        if vectors is None:
            table = read_table(project / "data" / "stimulus.txt", 1 + design.converter.n_tc)
            vectors = VectorSet(table[:, 1:], table[:, 0], (("project stimulus", len(table)),))
        expected = golden.run(design, weights, vectors.codes, vectors.elinks)
        write_vector_files(work, vectors, expected)
        shutil.copy(project / "data" / "weights.hex", work / "weights.hex")
        print(f"[csim] {design.summary()}: {len(vectors)} modules", file=stream)
        t1 = time.perf_counter()
        proc = subprocess.run([str(binary), str(work / "weights.hex"), str(work / "stimulus.txt"),
                               str(work / "expected.txt"), str(work / "actual.txt")],
                              capture_output=True, text=True)
        run_seconds = time.perf_counter() - t1
        if proc.returncode not in (0, 1):
            raise CsimError(f"the C simulation failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        actual = read_table(work / "actual.txt", 1 + design.n_outputs)
    return _compare(vectors, expected, actual, compile_seconds, run_seconds)


def _compare(vectors: VectorSet, expected: golden.Outputs, actual: np.ndarray,
             compile_seconds: float, run_seconds: float) -> CsimResult:
    want = np.column_stack([expected.sum_code, expected.out])
    if actual.shape != want.shape:
        raise CsimError(f"the C simulation produced {len(actual)} rows for {len(want)} modules")
    bad = np.flatnonzero(np.any(actual != want, axis=1))
    notes = []
    for row in bad[:5]:
        cols = np.flatnonzero(actual[row] != want[row])
        fields = ", ".join(("sum" if c == 0 else f"out[{c - 1}]") + f" {actual[row, c]} != {want[row, c]}"
                           for c in cols[:4])
        notes.append(f"module {row} ({vectors.elinks[row]} e-links): {fields}")
    return CsimResult(len(want), len(bad), notes, compile_seconds, run_seconds)
