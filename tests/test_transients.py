"""Single-event transients (SPEC section 9) on the tiny architecture, in the fault-injection
build of the hardened netlist (verif/set_build.py): with full module triplication no single
transient corrupts a weight, the configuration or the state; the one-voter scheme
(`full-shared`) loses weights to the same campaign."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from asicgen.tmr_policy import ae_top_policy
from verif.set_build import CLASSES, classify, set_build
from verif.seu import SeuBuild, prepare_campaign, report_targets, run_seu
from verif.vectors import region_vectors

TEST = "transients_while_streaming_and_over_i2c"
PER_CLASS = 60
STREAM_TRANSIENTS = 1500
I2C_TRANSACTIONS = 5


def tiny_design() -> Design:
    return Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)


def run_campaign(tmp_path_factory, scheme: str) -> dict:
    design = tiny_design()
    work = tmp_path_factory.mktemp(f"set_{scheme}")
    sources = generate_rtl(work / "rtl", design, "tests/test_transients.py")
    policy = ae_top_policy(design).with_full_scheme(scheme)
    build = set_build(sources, policy, work / "set", PER_CLASS, seed=3)
    protected, single = report_targets(build.hardened.report)
    seu = SeuBuild([build.netlist], protected, single, True)
    codes = region_vectors(design, per_region=100, seed=5).codes
    weights = WeightSet.random(design, np.random.default_rng(21))
    config = prepare_campaign(work / "sim", seu, design, weights, codes, protected, seed=11,
                              transient_points=build.points, scl_hz=1e6, stream_transients=STREAM_TRANSIENTS,
                              transient_i2c_transactions=I2C_TRANSACTIONS, control=scheme != "full")
    result = run_seu(work / "sim", config, [TEST])
    failed = [case.get("name") for case in ET.parse(result.results_xml).getroot().iter("testcase")
              if case.findall("failure") or case.findall("error")]
    stats = json.loads((work / "sim" / "stats" / "transients.json").read_text())
    return {"failed": failed, "stats": stats, "points": build.points, "population": build.population,
            "xml": result.results_xml}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    return run_campaign(tmp_path_factory, "full")


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory):
    return run_campaign(tmp_path_factory, "full-shared")


@pytest.mark.slow
def test_no_single_transient_corrupts_state_with_full_module_triplication(full_run):
    assert not full_run["failed"], f"see {full_run['xml']}"
    stats = full_run["stats"]
    assert full_run["population"]["common-mode"] == 0
    assert stats["injected"] >= STREAM_TRANSIENTS and stats["transients_during_i2c"] > 0
    assert stats["persistent_corruptions"] == 0 and stats["not_settled"] == 0
    assert stats["image_read_back_equal"] and stats["bad_outputs_after"] == 0
    # every class with nets was hit, and the domains' transients reached their copies
    assert set(stats["per_class"]) == {c for c in CLASSES if full_run["population"][c]}
    for k in range(3):
        assert stats["per_class"][f"domain {k}"]["flagged"] > 0
    assert stats["per_class"]["datapath"]["with_bad_outputs"] > 0, "a datapath transient must be able to " \
                                                                    "spoil its crossing's outputs"


@pytest.mark.slow
def test_the_shared_voter_scheme_loses_weights_to_single_transients(shared_run):
    assert not shared_run["failed"], f"see {shared_run['xml']}"
    stats = shared_run["stats"]
    assert shared_run["population"]["common-mode"] > 0
    assert stats["persistent_corruptions"] > 0
    assert stats["per_class"]["common-mode"]["persistent_corruptions"] > 0


def test_classes_come_from_the_structure(tmp_path):
    """A two-register design fully triplicated: the nets of each copy's logic are that copy's
    domain, the voters' outputs voters; no net is shared."""
    from tmr.flow import harden_sources
    from tmr.policy import Policy

    source = tmp_path / "acc.v"
    source.write_text("module acc (input clk, input [3:0] x, output reg [3:0] q, output reg [3:0] r);\n"
                      "  always @(posedge clk) begin q <= q + x; r <= r ^ q; end\nendmodule\n")
    harden_sources([source], Policy.from_raw({}), "acc", tmp_path / "work")
    module = json.loads((tmp_path / "work" / "hardened.json").read_text())["modules"]["acc"]
    found = set(classify(module).values())
    assert {"voter", "domain 0", "domain 1", "domain 2"} <= found and "common-mode" not in found
    harden_sources([source], Policy.from_raw({"default": "full-shared"}), "acc", tmp_path / "shared")
    module = json.loads((tmp_path / "shared" / "hardened.json").read_text())["modules"]["acc"]
    assert "common-mode" in set(classify(module).values())
