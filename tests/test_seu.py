"""SEU fault injection (SPEC section 10) on the tiny architecture: the hardened ae_top
hides every single upset and flags it; the plain build shows the same upsets.

Each build is compiled once for this module and runs all its cocotb tests in one
simulation (verif/tb_seu.py); the pytest tests below read the counts each cocotb
test wrote.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.harden import generate_plain_and_hardened
from asicgen.tmr_policy import ae_top_policy
from verif.seu import prepare_campaign, run_seu, seu_builds
from verif.vectors import region_vectors

STREAM_UPSETS = 2000
I2C_TRANSACTIONS = 5  # one of each kind (verif.i2c_agent.I2cTraffic.KINDS)
PLAIN_UPSETS = 300
COUNTER_CHECK_EVERY = 1000

HARDENED_TESTS = ["upsets_while_streaming_and_over_i2c", "flags_name_the_class_and_counter_saturates",
                  "double_upset_in_one_triplet", "upsets_in_registers_left_single"]
PLAIN_TESTS = ["plain_build_upsets_corrupt_outputs"]


def tiny_design() -> Design:
    return Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)


def failures(results_xml: Path) -> dict[str, str]:
    """cocotb test name -> failure message, for every failed test of a results file."""
    failed = {}
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for problem in list(case.findall("failure")) + list(case.findall("error")):
            failed[case.get("name")] = problem.get("message") or problem.text or "failed"
    return failed


def run_build(tmp_path_factory, hardened: bool) -> dict:
    design = tiny_design()
    build = tmp_path_factory.mktemp("seu_tmr" if hardened else "seu_plain")
    sources, netlist, tmr = generate_plain_and_hardened(build, design, "tests/test_seu.py")
    seu = seu_builds(sources, netlist, tmr.report)[int(hardened)]
    registers = [t.name for t in seu.table]
    targets = seu.protected
    if not hardened:
        targets = [t for t in targets if t.error_class in ("weights", "datapath")]
    codes = region_vectors(design, per_region=100, seed=5).codes
    weights = WeightSet.random(design, np.random.default_rng(21))
    config = prepare_campaign(build, seu, design, weights, codes, targets, seed=7, scl_hz=1e6,
                              stream_upsets=STREAM_UPSETS, i2c_transactions=I2C_TRANSACTIONS,
                              plain_upsets=PLAIN_UPSETS, counter_check_every=COUNTER_CHECK_EVERY)
    tests = HARDENED_TESTS if hardened else PLAIN_TESTS
    # only what the tests touch is public, as in the benchmark's builds
    result = run_seu(build, config, tests)
    assert result.tests == len(tests), f"ran {result.tests} of {len(tests)} tests; see {result.results_xml}"
    stats = {p.stem: json.loads(p.read_text()) for p in (build / "stats").glob("*.json")}
    return {"failures": failures(result.results_xml), "stats": stats, "xml": result.results_xml,
            "registers": registers}


@pytest.fixture(scope="module")
def hardened_run(tmp_path_factory):
    return run_build(tmp_path_factory, hardened=True)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    return run_build(tmp_path_factory, hardened=False)


def passed(run: dict, test: str) -> dict:
    assert test not in run["failures"], f"{test}: {run['failures'][test]} (see {run['xml']})"
    return run["stats"]


@pytest.mark.slow
def test_single_upsets_are_masked_flagged_and_repaired(hardened_run):
    stats = passed(hardened_run, "upsets_while_streaming_and_over_i2c")["campaign"]
    n = stats["injected"]
    assert n >= STREAM_UPSETS and stats["upsets_during_i2c"] > 0
    assert stats["escapes"] == 0 and stats["bad_outputs"] == 0 and stats["modules_compared"] > n
    assert stats["flagged"] == n and stats["class_flag_right"] == n and stats["repaired"] == n
    assert stats["cleared"] == n
    assert set(stats["per_class"]) == {"weights", "config", "fsm", "datapath"}
    # read and cleared over I2C after the first 1,000 upsets, then at the end
    checks = stats["status_checks"]
    assert len(checks) == 2 and checks[0]["count"] == COUNTER_CHECK_EVERY and stats["upsets_counted"] == n
    assert stats["status_checks_right"] == 2 and checks[-1]["flags"] == 0b1111
    assert stats["image_read_back_equal"] and stats["i2c_error_count"] == 0


@pytest.mark.slow
def test_flags_per_class_and_counter_saturation(hardened_run):
    stats = passed(hardened_run, "flags_name_the_class_and_counter_saturates")["flags"]
    assert all(c["flags"] == c["expected"] and c["count"] == 1 for c in stats["per_class"].values())
    assert stats["counter_saturated"] == 0xFFFF and stats["counter_after_write"] == 0


@pytest.mark.slow
def test_double_upset_is_flagged_but_not_corrected(hardened_run):
    stats = passed(hardened_run, "double_upset_in_one_triplet")["double_upset"]
    assert stats["weight"]["flagged"] and stats["weight"]["image_has_the_flipped_bit"]
    assert stats["weight"]["cleared"] and stats["output_register"]["cleared"]
    assert stats["weight"]["bad_outputs"] > 0 and stats["output_register"]["output_port_moved"]


@pytest.mark.slow
def test_upsets_in_registers_left_single_change_nothing(hardened_run):
    stats = passed(hardened_run, "upsets_in_registers_left_single")["single"]
    # the registers the policy's `none` rules pick out of every register the pass saw
    policy = ae_top_policy()
    left_single = {name for name in hardened_run["registers"] if policy.decide(name, None)[0] == "none"}
    assert left_single, "the ae_top policy leaves the I2C pad synchronisers single"
    assert sorted(stats["registers"]) == sorted(left_single)
    # each domain has its own synchronisers: an upset may be flagged (one domain's filter
    # disagrees for a clock) but never escapes
    assert stats["injected"] > 0 and stats["escapes"] == 0 and not stats["i2c_errors"]


@pytest.mark.slow
def test_plain_build_upsets_corrupt_outputs(plain_run):
    stats = passed(plain_run, "plain_build_upsets_corrupt_outputs")["plain"]
    assert stats["injected"] == PLAIN_UPSETS and stats["flagged"] == 0 and stats["tmr_err_after_reset"] == 0
    assert stats["escapes"] > 0 and stats["visible_per_class"]["weights"] > 0
    assert stats["visible_per_class"]["datapath"] > 0


def test_wrapper_reaches_every_copy_of_every_register(tmp_path):
    """The injection cases of the SEU wrapper: three replicas of a protected register, the single
    register under its escaped flat name, a one-bit register without a bit select, and a bit
    index just wide enough for the register (14 bits for 13,728)."""
    from verif.seu import Target
    from verif.seu_wrapper import PER_DOMAIN, StreamFiles, wrapper_text

    table = [Target("u_regfile.weights_q", 13728, "full", "weights"),
             Target("tmr_err_q", 1, "full", "config"), Target("u_i2c.gen_line[0].sync_q", 2, "none", "fsm")]
    files = StreamFiles(tmp_path / "s.hex", tmp_path / "e.hex", 10)
    hardened = wrapper_text(table, True, tiny_design(), files)
    for k in range(3):
        replica = f"u_top.u_regfile__weights_q__tmr{k}"
        assert f"if (inj_copies[{k}]) begin if (inj_write) {replica} = inj_value[13727:0]; " \
               f"else {replica}[inj_bit[13:0]] = ~{replica}[inj_bit[13:0]]; end" in hardened
        assert f"u_top.tmr_err_q__tmr{k} = ~u_top.tmr_err_q__tmr{k};" in hardened
    assert "u_top.\\u_i2c.gen_line[0].sync_q [inj_bit[0:0]]" in hardened
    domains = wrapper_text([Target("u_i2c.gen_line[0].sync_q", 2, PER_DOMAIN, "fsm")], True, tiny_design(),
                           files)
    for k, name in enumerate(["", "__d1", "__d2"]):
        line = f"if (inj_copies[{k}]) begin if (inj_write) u_top.\\u_i2c.gen_line[0].sync_q{name}  = "
        assert line in domains
    assert "16'd2: begin  // u_i2c.gen_line[0].sync_q" in hardened
    plain = wrapper_text(table, False, tiny_design(), files)
    assert "u_top.u_regfile.weights_q[inj_bit[13:0]]" in plain and "__tmr" not in plain
