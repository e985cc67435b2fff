"""The flow's verification stage: the generated ae_top under cocotb + Verilator,
streaming modules bit-exact against the Python model with the trained weights."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from asicgen.core.design import Design
from asicgen.core.naming import (
    ELINKS_REGISTER,
    ENABLE_REGISTER,
    FILE_ORDER,
    WEIGHTS_REGISTER,
    regfile_register,
)
from asicgen.core.weights import WeightSet
from tmr.transform import replica_base
from verif.params import wrapper_parameters
from verif.runner import Public, SimResult, run_cocotb
from verif.vectors import standard_vectors

WRAPPER = Path(__file__).with_name("tb_ae_top.sv")


def top_wrapper_parameters(design: Design) -> dict[str, int | float]:
    """Port widths of the test wrapper verif/tb_ae_top.sv for `design`."""
    return wrapper_parameters(design, WRAPPER)


def verify_top(rtl_dir: Path, weights: WeightSet, build_dir: Path, per_region: int = 150) -> SimResult:
    """Stream the plain generated ae_top in `rtl_dir`, bit-exact against the Python model."""
    return _stream([Path(rtl_dir) / name for name in FILE_ORDER], "verif.tb_stream", weights, build_dir,
                   per_region)


#: the registers the stream tests' back door writes (weights, e-link mode, enable)
BACKDOOR_REGISTERS = tuple(regfile_register(r) for r in (WEIGHTS_REGISTER, ELINKS_REGISTER, ENABLE_REGISTER))


def hardened_public_signals() -> list[Public]:
    """What the stream tests touch in the hardened build: the wrapper's ports and the replicas of
    the back-door registers (the flat netlist has them in ae_top itself)."""
    return [Public("tb_ae_top", "*"),
            *(Public("ae_top", f"{replica_base(name)}__tmr*") for name in BACKDOOR_REGISTERS)]


def verify_hardened_top(rtl_tmr_dir: Path, weights: WeightSet, build_dir: Path,
                        per_region: int = 150) -> SimResult:
    """Stream the TMR-hardened ae_top in `rtl_tmr_dir` (written by asicgen.harden.generate_hardened_top)
    with the vectors and tests of `verify_top`, bit-exact against the Python model.

    Only the signals the tests touch are public, so Verilator optimises the rest of the netlist."""
    return _stream([Path(rtl_tmr_dir) / "ae_top.v"], "verif.tb_stream_tmr", weights, build_dir, per_region,
                   public=hardened_public_signals())


def streamed_modules(build_dir: Path) -> int:
    """How many modules a `verify_top` / `verify_hardened_top` run in `build_dir` streamed (its
    first test streams every one and fails unless all of them are bit-exact)."""
    with np.load(Path(build_dir) / "vectors.npz") as vectors:
        return int(vectors["codes"].shape[0])


def _stream(sources: list[Path], test_module: str, weights: WeightSet, build_dir: Path, per_region: int,
            public: Sequence[Public] | None = None) -> SimResult:
    design = weights.design
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    vectors = standard_vectors(design, per_region=per_region, seed=17, random_rows=200)
    np.savez(build_dir / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    return run_cocotb(
        sources=[*sources, WRAPPER], toplevel="tb_ae_top", test_module=test_module, build_dir=build_dir,
        parameters=top_wrapper_parameters(design),
        config={"design": design.to_raw(), "weights": weights.words(), "dut": "tb_ae_top",
                "vectors": build_dir / "vectors.npz"}, public=public)
