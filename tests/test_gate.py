"""Gate-level simulation: cell models written from the Liberty and proven against it, the
netlist checks, and mapped netlists of the small network streaming bit-exact."""

import json

import numpy as np
import pytest

from asicgen import cell_models, gate, liberty, synth
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet, weights_document

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _library() -> liberty.Library:
    try:
        return liberty.read_library("osu018")
    except liberty.LibertyError as exc:
        pytest.skip(str(exc))


def _weights_file(path):
    weights = WeightSet.random(Design.build(SMALL), np.random.default_rng(5))
    path.write_text(json.dumps(weights_document(SMALL, weights.tensors, tool="test", region="cee_high_eta",
                                                elinks=5, seed=5)))
    return path


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    return gate.prove_models(_library(), tmp_path_factory.mktemp("cells"))


def test_cell_models_are_proven_equal_to_the_liberty(proven):
    assert proven.result.tests == 4 and proven.result.failed == 0
    text = proven.path.read_text()
    lib = _library()
    # a model for every cell but the three-state drivers
    assert {c for c in lib.cells if f"module {c} (" in text} == {c for c, cell in lib.cells.items()
                                                                 if not any(p.three_state for p in cell.pins)}


def test_the_proof_fails_on_wrong_models(proven, tmp_path):
    """A combinational mutant (NAND2 written as AND) and a sequential one (DFFSR setting instead
    of clearing while clear and preset both hold) fail the combinational test, and the
    sequential test and the chain test (DFFSR is chained too): three of the four."""
    text = proven.path.read_text()
    nand = "  assign Y = (~(A & B));\nendmodule"
    both = "if (asicgen_clear && asicgen_preset) P0002 <= 1'b0;"
    start = text.index("module NAND2X1 (")
    assert text.index(nand, start) < text.index("endmodule", start) + 10 and both in text
    mutant = text[:start] + text[start:].replace(nand, "  assign Y = (A & B);\nendmodule", 1)
    mutant = mutant.replace(both, both.replace("1'b0", "1'b1"))
    (tmp_path / "mutant.v").write_text(mutant)
    result = gate.run_proof(tmp_path / "mutant.v", _library(), tmp_path / "proof", sequential_steps=3000)
    assert result.failed == 3, f"{result.failed} of {result.tests} failed"


def test_liberty_functions_render_as_verilog():
    assert cell_models.verilog_expression("(!((A B)+C))", {"A", "B", "C"}) == "(~((A & B) | C))"
    assert cell_models.verilog_expression("A' ^ B", {"A", "B"}) == "((~A) ^ B)"
    with pytest.raises(cell_models.CellModelError, match="'Q', not a pin"):
        cell_models.verilog_expression("A & Q", {"A"})


def _netlist(tmp_path, body: str):
    path = tmp_path / "n.v"
    path.write_text(f"module top(a, b, y);\n  input a, b;\n  output y;\n{body}endmodule\n")
    return path


def test_netlists_the_models_cannot_simulate_are_refused(tmp_path):
    lib = _library()
    tied = "  DFFSR _1_ (\n    .CLK(a),\n    .D(b),\n    .Q(y),\n    .R(a),\n    .S(1'h1)\n  );\n"
    assert cell_models.check_netlist_cells(_netlist(tmp_path, tied), lib) == {"DFFSR": 1}
    both = tied.replace(".S(1'h1)", ".S(b)")
    with pytest.raises(cell_models.CellModelError, match="both clear"):
        cell_models.check_netlist_cells(_netlist(tmp_path, both), lib)
    tbuf = "  TBUFX1 _2_ (\n    .A(a),\n    .EN(b),\n    .Y(y)\n  );\n"
    with pytest.raises(cell_models.CellModelError, match="TBUFX1, a cell with no simulation model"):
        cell_models.check_netlist_cells(_netlist(tmp_path, tbuf), lib)


def test_gatesim_refuses_a_folder_that_is_not_a_mapped_synth(tmp_path):
    with pytest.raises(synth.SynthError, match="not a folder written by `asicgen synth`"):
        gate.gatesim_command(tmp_path, tmp_path / "out", "test")


def test_small_netlists_at_gate_level_stream_and_survive_faults(tmp_path):
    """The small network at II=8 mapped onto osu018, plain and hardened, with the proven cell
    models: the image programmed over I2C and read back, 60 region modules bit-exact; then 300
    upsets and transients on each: the hardened netlist keeps its image and streams bit-exact
    afterwards, the plain one does not (gatesim_command raises otherwise)."""
    lib = _library()
    source = _weights_file(tmp_path / "weights.json")
    synth.synth_command(str(source), [8], tmp_path / "syn", "test", library=lib, tmr=True)
    report = gate.gatesim_command(tmp_path / "syn", tmp_path / "gate", "test", weights=source, modules=60,
                                  faults=300)
    text = report.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 8 |")]
    streams, campaigns = rows[:2], rows[2:]
    assert {r.split("|")[2].strip() for r in streams} == {"plain", "hardened"}
    assert all("| equal | 60 |" in r for r in streams), streams
    assert "4 tests, 0 failed" in text
    assert len(campaigns) == 2
    hardened = next(r for r in campaigns if "| hardened |" in r).split("|")
    assert hardened[6].strip() == "0" and hardened[7].strip() == "0", hardened
