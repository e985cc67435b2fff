"""Proof that an existing ae_top, untouched, runs new weights: the weights are programmed over
I2C by cocotbext-i2c (replaying the transaction list `asicgen image` writes), read back from
the registers, then modules stream bit-exact against the Python model (verif/tb_top.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.core.naming import FILE_ORDER
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from verif.flow_check import WRAPPER, top_wrapper_parameters
from verif.runner import SimResult, run_cocotb
from verif.vectors import standard_vectors

#: SCL of the programming (the target's fastest supported rate keeps the run short)
PROGRAM_SCL_HZ = 1e6


@dataclass(frozen=True)
class ProgrammedRegion:
    name: str
    weights: WeightSet
    elinks: int
    #: the I2C transaction list (`weights_i2c.txt`)
    transactions: str


def verify_programmed(rtl_dir: Path, regions: Sequence[ProgrammedRegion], build: Path,
                      modules_per_region: int = 300, seed: int = 4) -> SimResult:
    """Program each region in turn over I2C (no reset between them) into the ae_top of `rtl_dir`
    and stream `modules_per_region` modules after each, bit-exact against the model."""
    design = regions[0].weights.design
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    vectors = standard_vectors(design, per_region=max(1, modules_per_region // 4), seed=seed, random_rows=50)
    np.savez(build / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    raw_regions = [{"name": r.name, "weights": r.weights.words(), "elinks": r.elinks,
                    "transactions": r.transactions} for r in regions]
    mode_address = RegisterMap.for_design(design).reg.ELINK_MODE.address
    return run_cocotb(sources=[*(Path(rtl_dir) / name for name in FILE_ORDER), WRAPPER], toplevel="tb_ae_top",
                      test_module="verif.tb_top", build_dir=build, parameters=top_wrapper_parameters(design),
                      config={"design": design.to_raw(), "regions": raw_regions, "scl_hz": PROGRAM_SCL_HZ,
                              "elink_mode_address": mode_address, "vectors": build / "vectors.npz",
                              "modules_per_region": modules_per_region})
