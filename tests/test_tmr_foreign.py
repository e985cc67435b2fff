"""The TMR pass on RTL nobody here wrote, end to end: a small Amaranth design (a state
machine, a counter, an accumulator and a register bank with a write port; clocked, with a
synchronous reset), written as Verilog by Amaranth's own yosys, then hardened with tmr/ and
a policy file alone: proof, survival of synthesis, equivalence without upsets, and upsets
under cocotb + Verilator against the plain design running beside it. Also the policy file:
written as TOML, read back the same, and written beside the generated RTL."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.naming import TMR_POLICY_FILE
from asicgen.core.raw import ConfigError
from asicgen.core.render import is_generated
from asicgen.rtl import generate_rtl
from asicgen.tmr_policy import ae_top_policy
from tmr.flow import check_survival, harden_sources, prove_hardening, write_hardened
from tmr.policy import DEFAULT_POLICY, Policy
from tmr.transform import TmrError, cell_kind
from tmr.yosys import run_yosys, stage_sources
from verif.runner import run_cocotb

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TOP, PLAIN_TOP = "foreign", "foreign_plain"
BANK_WORDS, BANK_BITS, ACC_BITS, COUNT_BITS = 4, 8, 10, 4
#: every flip-flop bit of the design: the bank, accumulator, counter and the 3-state FSM's state
DESIGN_BITS = BANK_WORDS * BANK_BITS + ACC_BITS + COUNT_BITS + 2
#: the test's own policy: nothing in it knows asicgen
POLICY = Policy.from_raw({
    "classes": ["state", "data"],
    "rules": [{"match": "bank*", "policy": "full", "class": "data"},
              {"match": "acc", "policy": "pipeline", "class": "data"},
              {"match": "*", "policy": "full", "class": "state"}],
    "error_port": "tmr_err",
}, "foreign policy")
HARDENED_UPSETS = 3000
PLAIN_UPSETS = 100


class Foreign(wiring.Component):
    """Start -> run over the bank, summing it twelve words at a time -> done -> idle."""

    start: In(1)
    we: In(1)
    waddr: In(2)
    wdata: In(BANK_BITS)
    raddr: In(2)
    rdata: Out(BANK_BITS)
    acc: Out(ACC_BITS)
    count: Out(COUNT_BITS)
    busy: Out(1)
    done: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.submodules.bank = bank = Memory(shape=BANK_BITS, depth=BANK_WORDS, init=[0] * BANK_WORDS)
        write, read, scan = bank.write_port(), bank.read_port(domain="comb"), bank.read_port(domain="comb")
        counter, acc = Signal(COUNT_BITS), Signal(ACC_BITS)
        m.d.comb += [write.addr.eq(self.waddr), write.data.eq(self.wdata), write.en.eq(self.we),
                     read.addr.eq(self.raddr), self.rdata.eq(read.data), scan.addr.eq(counter[:2]),
                     self.acc.eq(acc), self.count.eq(counter)]
        with m.FSM():
            with m.State("IDLE"), m.If(self.start):
                m.d.sync += [counter.eq(0), acc.eq(0)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [counter.eq(counter + 1), acc.eq(acc + scan.data)]
                with m.If(counter == 11):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                m.next = "IDLE"
        return m


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> Path:
    """foreign.v and foreign_plain.v (the same design under another name, to simulate both)."""
    folder = tmp_path_factory.mktemp("amaranth")
    for name in (TOP, PLAIN_TOP):
        (folder / f"{name}.v").write_text(verilog.convert(Foreign(), name=name))
    return folder


@pytest.fixture(scope="module")
def hardened(emitted, tmp_path_factory):
    work = tmp_path_factory.mktemp("foreign_tmr")
    policy_file = work / "foreign_policy.toml"
    policy_file.write_text(POLICY.to_toml())
    result = harden_sources([emitted / f"{TOP}.v"], Policy.load(policy_file), TOP, work / "harden")
    write_hardened(result, work / "hardened" / f"{TOP}.v")
    return result, work / "hardened" / f"{TOP}.v"


# --- the policy file


def round_trip(policy: Policy) -> Policy:
    return Policy.from_raw(tomllib.loads(policy.to_toml()), "round trip")


def test_policies_round_trip_through_toml():
    awkward = Policy.from_raw({
        "rules": [{"match": 'odd "name" \\ with\ttab\x7f and é*', "policy": "none"},
                  {"match": "u_*.q[3]", "policy": "pipeline", "class": "dp"}],
        "default": "pipeline", "classes": ["dp", "none", "pipeline"], "clocks": ["clk_a", "clk_b"],
        "hook": {"cell_type": "my_hook", "flags_port": "f", "upset_port": "u"}, "error_port": "err",
    })
    for policy in (Policy.from_raw({}), POLICY, awkward, ae_top_policy()):
        assert round_trip(policy) == policy
    assert POLICY.to_toml() == round_trip(POLICY).to_toml()  # deterministic


def test_policy_files_stay_strict(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.to_toml().replace('policy = "pipeline"', 'policy = "quintuple"'))
    with pytest.raises(ConfigError, match=r"bad.toml.rules\[1\].policy: 'quintuple' is not one of"):
        Policy.load(bad)
    bad.write_text(POLICY.to_toml() + 'colour = "blue"\n')
    with pytest.raises(ConfigError, match="bad.toml.rules.2.: unknown key.s. colour"):
        Policy.load(bad)


def test_generated_rtl_carries_its_policy(tmp_path):
    design = Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)
    generate_rtl(tmp_path / "rtl", design, "test")
    path = tmp_path / "rtl" / TMR_POLICY_FILE
    assert is_generated(path) and path.read_text().startswith("# Generated by asicgen")
    assert Policy.load(path) == ae_top_policy(design)
    manifest = json.loads((tmp_path / "rtl" / "manifest.json").read_text())
    assert TMR_POLICY_FILE in json.dumps(manifest)


# --- the foreign design


def test_foreign_rtl_is_hardened_with_its_proof(hardened):
    result, out = hardened
    report = result.report
    assert result.proof.proven, result.proof.summary()
    assert report.bits_before == DESIGN_BITS and report.bits_after == 3 * DESIGN_BITS and not report.single
    data = {r.name for r in report.triplicated if r.error_class == "data"}
    assert data == {f"bank[{i}]" for i in range(BANK_WORDS)} | {"acc"}
    assert {r.name: r.policy for r in report.triplicated}["acc"] == "pipeline"
    text = out.read_text()
    # the power-up values (Amaranth's `init`) move to the replicas, which are the flip-flops now
    assert f"reg [{ACC_BITS - 1}:0] acc__tmr2 = {ACC_BITS}'h000;" in text
    assert "output tmr_err;" in text and json.loads(out.with_suffix(".tmr.json").read_text())["top"] == TOP


def flip_flops(verilog_file: Path, top: str, workdir: Path) -> int:
    """Flip-flop bits after a full, flattening yosys synthesis (ABC included)."""
    staged = stage_sources([verilog_file], workdir)
    run_yosys(f'read_verilog -sv "{staged[0]}"\nsynth -flatten -top {top}\n'
              "tee -q -o stat.json stat -json\n", workdir, "synth.log")
    cells = json.loads((workdir / "stat.json").read_text())["modules"][f"\\{top}"]["num_cells_by_type"]
    return sum(int(n) for cell, n in cells.items() if cell_kind(cell) == "ff")


def test_every_replica_survives_synthesis(emitted, hardened, tmp_path):
    result, out = hardened
    assert flip_flops(emitted / f"{TOP}.v", TOP, tmp_path / "plain") == DESIGN_BITS
    assert check_survival(flip_flops(out, TOP, tmp_path / "hardened"), result.report)
    with pytest.raises(TmrError, match="replicas or domain copies were merged or removed"):
        check_survival(DESIGN_BITS, result.report)


def test_hardened_equals_plain_without_upsets(emitted, tmp_path):
    _, equivalence = prove_hardening([emitted / f"{TOP}.v"], POLICY, TOP, tmp_path)
    assert equivalence.unproven == 0 and equivalence.proven > DESIGN_BITS


def failures(results_xml: Path) -> dict[str, str]:
    failed = {}
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for problem in [*case.findall("failure"), *case.findall("error")]:
            failed[case.get("name")] = problem.get("message") or problem.text or "failed"
    return failed


def test_upsets_in_replicas_are_hidden_and_flagged_and_show_in_the_plain_design(emitted, hardened,
                                                                                 tmp_path):
    result, out = hardened
    registers = [{"name": r.name, "width": r.width} for r in result.report.triplicated]
    config = {"seed": 5, "registers": registers, "upsets": HARDENED_UPSETS, "upset_probability": 0.5,
              "plain_upsets": PLAIN_UPSETS, "stats_dir": tmp_path / "stats"}
    sources = [emitted / f"{PLAIN_TOP}.v", out, ROOT / "verif" / "tb_tmr_foreign.sv"]
    sim = run_cocotb(sources=sources, toplevel="tb_tmr_foreign", test_module="verif.tb_tmr_foreign",
                     build_dir=tmp_path / "sim", config=config)
    assert sim.tests == 2 and failures(sim.results_xml) == {}, failures(sim.results_xml)
    stats = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "stats").glob("*.json")}
    hard, plain = stats["hardened"], stats["plain"]
    assert hard["upsets"] == HARDENED_UPSETS and hard["flagged"] == hard["repaired"] == HARDENED_UPSETS
    assert hard["escapes"] == hard["mismatches"] == hard["false_flags"] == 0
    assert all(n > 0 for n in hard["per_register"].values()), hard["per_register"]
    # the comparison can fail: upsets in the plain design reach its outputs
    assert plain["upsets"] == PLAIN_UPSETS and plain["visible"] > PLAIN_UPSETS // 2, plain
    assert plain["hardened_flags"] == 0


def test_tmr_command_hardens_foreign_verilog(emitted, tmp_path, capsys):
    """`asicgen tmr` on RTL with no hook: the default policy, a policy file beside the
    source, or one named with --policy."""
    out = tmp_path / "default" / "hardened.v"
    out.parent.mkdir()
    assert main(["tmr", str(emitted / f"{TOP}.v"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "policy: the default" in err and f"7 registers ({DESIGN_BITS} bits) triplicated" in err
    assert is_generated(out) and "acc__tmr2" in out.read_text()
    report = json.loads(out.with_suffix(".tmr.json").read_text())
    assert report["totals"]["bits_after"] == 3 * DESIGN_BITS and report["classes"] == [DEFAULT_POLICY]
    assert out.with_suffix(".tmr.md").read_text().startswith(f"# TMR report: {TOP}")

    beside = tmp_path / "beside"
    beside.mkdir()
    (beside / f"{TOP}.v").write_text((emitted / f"{TOP}.v").read_text())
    (beside / TMR_POLICY_FILE).write_text(POLICY.to_toml())
    assert main(["tmr", str(beside / f"{TOP}.v"), "-o", str(beside / "hardened.v")]) == 0
    assert f"policy: {beside / TMR_POLICY_FILE}" in capsys.readouterr().err
    assert json.loads((beside / "hardened.tmr.json").read_text())["classes"] == ["state", "data"]

    named = tmp_path / "named.json"
    named.write_text(json.dumps({"rules": [{"match": "bank*", "policy": "none"}]}))
    assert main(["tmr", str(beside / f"{TOP}.v"), "-o", str(tmp_path / "named.v"), "--policy", str(named)]) \
        == 0
    assert f"policy: {named}" in capsys.readouterr().err
    named_report = json.loads((tmp_path / "named.tmr.json").read_text())
    # the bank words are not voted; the default policy's logic reads them, so each domain has its own
    assert not named_report["single"] and len(named_report["per_domain"]) == BANK_WORDS
