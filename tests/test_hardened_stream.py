"""The flow's verification stage (verif/flow_check.py) on a small network: the plain and the
TMR-hardened ae_top streamed bit-exact under cocotb + Verilator, from a relative build folder
as `asicgen flow --out build/flow` gives it."""

import re
from pathlib import Path

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from tmr.transform import replica_base
from verif.flow_check import BACKDOOR_REGISTERS, verify_top

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def small_weights(ii: int = 1) -> WeightSet:
    return WeightSet.random(Design.build(SMALL, ii), np.random.default_rng(8))


@pytest.mark.slow
def test_verify_top_with_a_relative_build_dir(tmp_path, monkeypatch):
    """cocotb runs the simulator inside the build folder: a relative path handed to it (config
    file, vectors, results) would point below that folder."""
    from asicgen.rtl import generate_rtl

    weights = small_weights()
    generate_rtl(tmp_path / "rtl", weights.design, "test")
    monkeypatch.chdir(tmp_path)
    result = verify_top(Path("rtl"), weights, Path("build/sim/rtl"), per_region=20)
    assert result.tests == 4 and result.failed == 0, f"see {result.results_xml}"
    assert result.results_xml == tmp_path / "build" / "sim" / "rtl" / "results_tb_stream.xml"
    assert not (tmp_path / "build" / "sim" / "rtl" / "build").exists()


@pytest.mark.slow
def test_verify_hardened_top_streams_bit_exact(tmp_path):
    """The hardened small network through the flow's check: built with only the signals the tests
    touch public, every stream test passes (one of them checks that the scoreboard can fail)."""
    from asicgen.harden import generate_hardened_top
    from asicgen.rtl import generate_rtl
    from verif.flow_check import verify_hardened_top

    weights = small_weights()
    generate_rtl(tmp_path / "rtl", weights.design, "test")
    generate_hardened_top(tmp_path / "rtl", tmp_path / "rtl_tmr", weights.design, "test")
    build = tmp_path / "sim"
    result = verify_hardened_top(tmp_path / "rtl_tmr", weights, build, per_region=20)
    assert result.tests == 4 and result.failed == 0, f"see {result.results_xml}"
    replicas = {f"{replica_base(name)}__tmr{k}" for name in BACKDOOR_REGISTERS for k in range(3)}
    assert public_signals(build)["tb_ae_top__u_top"] == replicas


def public_signals(build: Path) -> dict[str, set[str]]:
    """Verilator scope -> the names it lets the tests reach, from the generated model."""
    found: dict[str, set[str]] = {}
    for source in build.glob("Vtop__Syms*.cpp"):
        for scope, name in re.findall(r'__Vscopep_(\w+)->varInsert\("([^"]+)"', source.read_text()):
            found.setdefault(scope, set()).add(name)
    return found
