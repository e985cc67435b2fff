"""The proof that comes with every hardened netlist (tmr/proof.py): translation validation of
the pass's output against its input, and the per-kind induction lemma; and that both fail
on broken transforms (tmr/mutants.py)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.harden import generate_hardened_top
from asicgen.rtl import FILE_ORDER, generate_rtl
from asicgen.tmr_policy import ae_top_policy
from tmr import flow as tmr_flow
from tmr.flow import harden_sources
from tmr.mutants import DOMAIN_MUTANTS, MUTANTS
from tmr.policy import Policy
from tmr.proof import ANY_UPSET, Kind, prove_kind, validate
from tmr.transform import TmrError

SMALL = EncoderArch(conv_filters=2, dense_units=4)
#: the ae_top policy with full module triplication of its state (`full`)
FULL_POLICY = ae_top_policy().with_full_scheme("full")
#: the register a mutant breaks, and the other register it may wire in
VICTIM, OTHER = "u_regfile.elinks_q", "u_regfile.enable_q"


@pytest.fixture(scope="module")
def hardened_small(tmp_path_factory):
    work = tmp_path_factory.mktemp("proof")
    generate_rtl(work / "rtl", Design.build(SMALL, 1), "test")
    sources = [work / "rtl" / n for n in FILE_ORDER]
    hardened = harden_sources(sources, FULL_POLICY, "ae_top", work / "harden")
    return hardened, work / "harden"


def test_hardened_ae_top_comes_with_its_proof(hardened_small):
    hardened, _ = hardened_small
    proof, report = hardened.proof, hardened.report
    assert proof.proven, proof.summary()
    v = proof.validation
    assert v.protected == len(report.triplicated)
    assert v.single == len(report.single) + len(report.per_domain) > 0
    assert report.per_domain and not report.single  # the pad synchronisers: one per domain
    per_class = Counter(r.error_class for r in report.triplicated)
    # every domain has its own error logic: the flags of each cover every register of their class
    assert v.flags == {f"{flag}{domain}": count for domain in ("", " (domain 1)", " (domain 2)")
                       for flag, count in [*((cls, per_class[cls]) for cls in FULL_POLICY.classes),
                                           (ANY_UPSET, len(report.triplicated))]}
    full = [r for r in report.triplicated if r.policy == "full"]
    assert v.domain_registers == len(full) > 0 and v.domain_copies > 0
    # the independent structural check: no net in the next-state logic of two copies of a `full`
    # register; the pads every copy reads are listed by name
    assert v.common_mode is not None and v.common_mode.nets == 0 and not v.common_mode.exposed
    assert v.common_mode.registers == len(full)
    assert set(v.common_mode.pads) == {"rst_n", "scl_i", "sda_i", *(f"i2c_addr[{i}]" for i in range(7))}
    assert {k.kind.label().split()[0] for k in proof.kinds} == {"full", "pipeline"}
    assert sum(k.registers for k in proof.kinds) == len(report.triplicated)


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_broken_transform_fails_translation_validation(mutant, hardened_small, tmp_path):
    _, work = hardened_small
    design = json.loads((work / "hardened.json").read_text())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(MUTANTS[mutant](design, "ae_top", VICTIM, OTHER)))
    result = validate(work / "plain.json", broken, FULL_POLICY, "ae_top")
    assert not result.proven
    named = VICTIM if mutant != "comparators reach an output pin" else "output port tmr_err"
    assert any(named in p for p in result.problems), result.problems[:5]


@pytest.mark.parametrize("mutant", sorted(DOMAIN_MUTANTS))
def test_a_broken_domain_fails_translation_validation(mutant, hardened_small, tmp_path):
    _, work = hardened_small
    design = json.loads((work / "hardened.json").read_text())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(DOMAIN_MUTANTS[mutant](design, "ae_top", VICTIM, OTHER)))
    result = validate(work / "plain.json", broken, FULL_POLICY, "ae_top")
    assert not result.proven
    assert any(VICTIM in p for p in result.problems), result.problems[:5]


def test_the_shared_voter_scheme_fails_the_full_policy(tmp_path):
    """Today's one-voter scheme (`full-shared`), checked against the `full` policy: every `full`
    register has common-mode nets (one transient there reaches all copies)."""
    generate_rtl(tmp_path / "rtl", Design.build(SMALL, 1), "test")
    sources = [tmp_path / "rtl" / n for n in FILE_ORDER]
    shared = harden_sources(sources, FULL_POLICY.with_full_scheme("full-shared"), "ae_top",
                            tmp_path / "shared")
    assert shared.proof.proven  # as a scheme of its own, it holds: upsets are repaired
    found = shared.proof.validation.common_mode
    assert found is not None and found.nets > 0 and VICTIM in found.exposed
    result = validate(tmp_path / "shared" / "plain.json", tmp_path / "shared" / "hardened.json",
                      FULL_POLICY, "ae_top")
    assert not result.proven
    assert any(VICTIM in p for p in result.problems), result.problems[:5]


@pytest.mark.parametrize("scheme", ["full", "full-shared"])
def test_the_transient_lemma_holds_for_domains_and_fails_for_one_shared_voter(scheme, tmp_path):
    """A transient on a voter's output as the next-state logic reads it: with three domains it
    reaches one copy; with one shared voter, all three (the lemma finds the counterexample)."""
    kind = Kind("full", "$dff", (("CLK_POLARITY", "1"),), ("CLK", "D"), ())
    proven, detail = prove_kind(kind, tmp_path, scheme=scheme, transients=True)
    assert proven == (scheme == "full"), detail


def test_the_unbroken_netlist_validates(hardened_small):
    """The same check as the mutants' on the file they start from: it is the mutation that fails."""
    _, work = hardened_small
    assert validate(work / "plain.json", work / "hardened.json", FULL_POLICY, "ae_top").proven


ADFF = Kind("full", "$adff", (("ARST_POLARITY", "0"), ("CLK_POLARITY", "1")), ("ARST", "CLK", "D"),
            ("ARST_VALUE",))


@pytest.mark.parametrize("voter", ["and", "copy0"])
def test_the_lemma_fails_for_a_broken_voter(voter, tmp_path):
    proven, detail = prove_kind(ADFF, tmp_path, voter)
    assert not proven and "FAIL" in detail


@pytest.mark.parametrize("kind", [
    ADFF,
    Kind("pipeline", "$dff", (("CLK_POLARITY", "1"),), ("CLK", "D"), ()),
    Kind("full", "$dffe", (("CLK_POLARITY", "1"), ("EN_POLARITY", "0")), ("CLK", "D", "EN"), ()),
    Kind("full", "$sdff", (("CLK_POLARITY", "1"), ("SRST_POLARITY", "1")), ("CLK", "D", "SRST"),
         ("SRST_VALUE",)),
    Kind("full", "$dffsr", (("CLK_POLARITY", "1"), ("CLR_POLARITY", "1"), ("SET_POLARITY", "1")),
         ("CLK", "CLR", "D", "SET"), ()),
], ids=lambda k: k.cell_type)
def test_the_lemma_holds_for_each_flip_flop_kind(kind, tmp_path):
    proven, detail = prove_kind(kind, tmp_path)
    assert proven, detail


def test_a_netlist_that_fails_its_proof_is_not_written(tmp_path, monkeypatch):
    """A fault in the pass (here: every voter made an AND) stops it before any Verilog exists."""
    real_harden = tmr_flow.harden

    def broken_harden(module, policy, submodules=frozenset()):
        report = real_harden(module, policy, submodules)
        for cell in module.cells.values():
            if "tmr_voter_of" in cell.get("attributes", {}):
                cell["type"] = "$and"
        return report

    monkeypatch.setattr(tmr_flow, "harden", broken_harden)
    source = tmp_path / "acc.v"
    source.write_text("module acc(input clk, input [3:0] d, output reg [3:0] q);\n"
                      "  always @(posedge clk) q <= q + d;\nendmodule\n")
    with pytest.raises(TmrError, match="(?s)failed its proof.*not a majority"):
        harden_sources([source], Policy.from_raw({}), "acc", tmp_path / "work")
    assert not (tmp_path / "work" / "hardened.v").exists()


def test_generated_report_states_the_proof(tmp_path):
    design = Design.build(SMALL, 2)
    generate_rtl(tmp_path / "rtl", design, "test")
    generate_hardened_top(tmp_path / "rtl", tmp_path / "rtl_tmr", design, "test")
    report = (tmp_path / "rtl_tmr" / "tmr_report.md").read_text()
    assert "translation validation: **proven**" in report
    assert "| full $adff" in report and "proven: induction step proven |" in report
    first = report
    generate_hardened_top(tmp_path / "rtl", tmp_path / "rtl_tmr", design, "test")
    assert (tmp_path / "rtl_tmr" / "tmr_report.md").read_text() == first, "same input, same bytes"


def test_policy_without_hook_gets_a_validated_error_port(tmp_path):
    source = tmp_path / "cnt.v"
    source.write_text("module cnt(input clk, input rst_n, output reg [2:0] q);\n"
                      "  always @(posedge clk or negedge rst_n) if (!rst_n) q <= 0; else q <= q + 1;\n"
                      "endmodule\n")
    hardened = harden_sources([source], Policy.from_raw({}), "cnt", tmp_path / "work")
    assert hardened.proof.proven and hardened.proof.validation.protected == 1
    assert Path(tmp_path / "work" / "hardened.json").is_file()
