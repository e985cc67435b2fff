"""The flow's verification stage: the generated ae_top under cocotb + Verilator,
streaming modules bit-exact against the Python model with the trained weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asicgen.rtl import FILE_ORDER
from asicgen.vectors import standard_vectors
from asicgen.weights import WeightSet
from verif.runner import SimResult, run_cocotb

WRAPPER = Path(__file__).with_name("tb_ae_top.sv")


def top_wrapper_parameters(design) -> dict[str, int]:
    """Port widths of the test wrapper verif/tb_ae_top.sv for `design`."""
    c = design.converter
    return {"TcBits": c.n_tc * c.tc_code.bits, "SumBits": c.sum_code.bits,
            "OutBits": design.n_outputs * design.output_type.bits}


def verify_top(rtl_dir: Path, weights: WeightSet, build_dir: Path, per_region: int = 150) -> SimResult:
    design = weights.design
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    vectors = standard_vectors(design, per_region=per_region, seed=17, random_rows=200)
    np.savez(build_dir / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    return run_cocotb(
        sources=[*(Path(rtl_dir) / name for name in FILE_ORDER), WRAPPER], toplevel="tb_ae_top",
        test_module="verif.tb_stream", build_dir=build_dir,
        parameters=top_wrapper_parameters(design),
        config={"design": design.to_raw(), "weights": weights.words(), "dut": "tb_ae_top",
                "vectors": build_dir / "vectors.npz"})
