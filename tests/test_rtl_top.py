"""ae_top under cocotb + Verilator: streaming at every II, and reconfiguration over I2C."""

from pathlib import Path

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS, format_transactions
from asicgen.core.image import transactions
from asicgen.core.regmap import RegisterMap
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from verif.flow_check import top_wrapper_parameters
from verif.runner import run_cocotb
from verif.vectors import standard_vectors, tie_weights

HERE = Path(__file__).resolve().parents[1]


def build_top(design: Design, build):
    sources = generate_rtl(build / "rtl", design, "test")
    return [*sources, HERE / "verif" / "tb_ae_top.sv"]


@pytest.fixture(scope="module")
def top_builds(tmp_path_factory):
    return {ii: tmp_path_factory.mktemp(f"top_ii{ii}") for ii in (1, 2, 4, 8)}


@pytest.mark.slow
@pytest.mark.parametrize("ii", [1, 2, 4, 8])
def test_top_streams_bit_exact(ii, top_builds):
    design = Design.build(EncoderArch(), ii)
    build = top_builds[ii]
    weights = WeightSet.random(design, np.random.default_rng(10 + ii))
    vectors = standard_vectors(design, per_region=150, seed=ii, random_rows=200)
    np.savez(build / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    result = run_cocotb(sources=build_top(design, build), toplevel="tb_ae_top", test_module="verif.tb_stream",
                        build_dir=build, parameters=top_wrapper_parameters(design),
                        config={"design": design.to_raw(), "weights": weights.words(), "dut": "tb_ae_top",
                                "vectors": build / "vectors.npz"})
    assert result.tests == 4 and result.failed == 0, f"see {result.results_xml}"


@pytest.mark.slow
def test_reconfiguration_over_i2c(trained_networks, tmp_path_factory):
    from asicgen.sources import load_network

    design = Design.build(EncoderArch(), 1)
    build = tmp_path_factory.mktemp("top_reconfig")
    region_a = load_network(trained_networks["default"])
    region_b = tie_weights(design, 5)
    regions = []
    for name, weights, elinks in (("A (trained)", region_a.weights, 5), ("B", region_b, 3)):
        text = format_transactions(transactions(weights, elinks), DEFAULT_DEVICE_ADDRESS, ["test"])
        regions.append({"name": name, "weights": weights.words(), "elinks": elinks, "transactions": text})
    vectors = standard_vectors(design, per_region=100, seed=4, random_rows=50)
    np.savez(build / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    mode_address = RegisterMap.for_design(design).register("ELINK_MODE").address
    result = run_cocotb(sources=build_top(design, build), toplevel="tb_ae_top", test_module="verif.tb_top",
                        build_dir=build, parameters=top_wrapper_parameters(design),
                        config={"design": design.to_raw(), "regions": regions, "scl_hz": 1e6,
                                "elink_mode_address": mode_address, "vectors": build / "vectors.npz",
                                "modules_per_region": 300})
    assert result.tests == 1 and result.failed == 0, f"see {result.results_xml}"


def driving_cone(module: dict, bits: list) -> tuple[set[str], list[str]]:
    """The cells that drive `bits` of a yosys JSON module, back to the flip-flops: (the names of
    the nets the flip-flops' Q drive, the types of the combinational cells on the way)."""
    driver = {}
    for name, cell in module["cells"].items():
        for port, direction in cell["port_directions"].items():
            if direction == "output":
                for bit in cell["connections"][port]:
                    driver[bit] = name
    q_names = {tuple(net["bits"]): name for name, net in module["netnames"].items() if not net["hide_name"]}
    flops, logic, seen = set(), [], set()
    todo = [b for b in bits if isinstance(b, int)]
    while todo:
        name = driver.get(todo.pop())
        if name is None or name in seen:
            continue
        seen.add(name)
        cell = module["cells"][name]
        if cell["type"] in ("$dff", "$adff", "$dffe", "$adffe", "$sdff", "$sdffe"):
            flops.add(q_names.get(tuple(cell["connections"]["Q"]), name))
            continue
        logic.append(cell["type"])
        todo += [b for port, direction in cell["port_directions"].items() if direction == "input"
                 for b in cell["connections"][port] if isinstance(b, int)]
    return flops, logic


def test_hardened_tmr_err_is_the_voted_register(tmp_path):
    """SPEC section 11: tmr_err is a protected register. In the hardened netlist the pin is driven
    by the majority of the three copies of `tmr_err_q` alone: no comparator (XOR) and no other
    flip-flop between a voter's inputs and the pin."""
    import json

    from asicgen.harden import generate_hardened_top
    from asicgen.tmr_policy import FULL
    from tmr.yosys import run_yosys, stage_sources

    design = Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)
    generate_rtl(tmp_path / "rtl", design, "test")
    report = generate_hardened_top(tmp_path / "rtl", tmp_path / "tmr", design, "test").report
    assert "tmr_err_q" in {r.name for r in report.triplicated}
    assert next(r for r in report.triplicated if r.name == "tmr_err_q").policy == FULL
    names = stage_sources([tmp_path / "tmr" / "ae_top.v"], tmp_path / "cone")
    # the domain voters are modules of their own (kept for synthesis): flattened to walk the cone
    run_yosys(f"read_verilog {names[0]}\nhierarchy -top ae_top\nproc\nsetattr -mod -unset keep_hierarchy\n"
              "flatten\nwrite_json ae_top.json\n",
              tmp_path / "cone")
    module = json.loads((tmp_path / "cone" / "ae_top.json").read_text())["modules"]["ae_top"]
    flops, logic = driving_cone(module, module["ports"]["tmr_err"]["bits"])
    assert flops == {f"tmr_err_q__tmr{k}" for k in range(3)}
    # a 1-bit majority: three ANDs, two ORs (and buffers yosys may leave)
    assert sorted(t for t in logic if t != "$pos") == ["$and"] * 3 + ["$or"] * 2, logic
