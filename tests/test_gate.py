"""Gate-level simulation: cell models written from the Liberty and proven against it, the
netlist checks, and mapped netlists of the small network streaming bit-exact."""

import json
import re

import numpy as np
import pytest

from asicgen import cell_models, gate, gate_faults, gate_netlist, gate_power, liberty, synth
from asicgen.cluster import Cluster, load_cluster, make_client
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet, weights_document
from verif.runner import Public, SimResult, build_cocotb, run_shards
from verif.vectors import region_vectors

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
    # every cell but the three-state drivers is written in place (none is left instantiated)
    written = {c for c in lib.cells if f"// {c} u_{c}\n" in text or f"assign {c}__" in text}
    assert written == {c for c, cell in lib.cells.items() if not any(p.three_state for p in cell.pins)}
    assert not re.search(r"^\s*[A-Z]\w+ u_\w+ \($", text, re.MULTILINE)


def test_the_proof_fails_on_wrong_models(proven, tmp_path):
    """A combinational mutant (NAND2 written as AND) and a sequential one (DFFSR setting instead
    of clearing while clear and preset both hold) fail the combinational test, and the
    sequential test and the chain test (DFFSR is chained too): three of the four."""
    text = proven.path.read_text()
    nand = "assign NAND2X1__Y = (~((NAND2X1__A ) & (NAND2X1__B )));"
    both = re.compile(r"(if \(\(~\(DFFSR__\w*R \)\) & \(~\(DFFSR__\w*S \)\)\) asicgen_q\d+ <= )1'b0;")
    assert nand in text and len(both.findall(text)) == 5
    mutant = text.replace(nand, "assign NAND2X1__Y = ((NAND2X1__A ) & (NAND2X1__B ));")
    mutant = both.sub(r"\g<1>1'b1;", mutant)
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


def test_cells_written_in_place_read_the_netlists_nets(tmp_path):
    """A flip-flop on the netlist's clock and reset nets triggers on those nets (so flip-flops on
    the same nets share a trigger); a preset tied inactive is left out; an escaped name keeps the
    space that ends it; an instance of a module that is not a cell stays as it is."""
    body = ("  DFFSR _1_ (\n    .CLK(a),\n    .D(\\x.y [0] ),\n    .Q(y),\n    .R(b),\n    .S(1'h1)\n  );\n"
            "  NOR2X1 _2_ (\n    .A(a),\n    .B(\\x.y [0] ),\n    .Y(\\z )\n  );\n"
            "  sub u_sub (\n    .A(a)\n  );\n")
    out = gate_netlist.inline_netlist(_netlist(tmp_path, body), _library(), tmp_path / "i.v").path.read_text()
    assert "always @(posedge a  or negedge b )\n    if ((~(b ))) asicgen_q0 <= 1'b0;\n" in out
    assert "else asicgen_q0 <= (\\x.y [0] );\n  assign y = asicgen_q0;" in out
    assert "assign \\z = (~((a ) | (\\x.y [0] )));" in out
    assert "  sub u_sub (\n    .A(a)\n  );" in out and "DFFSR _1_ (" not in out


def test_modules_used_more_than_once_are_built_once(tmp_path):
    """A module of the netlist instantiated twice is marked as a Verilator hierarchical block
    (built once for both instances); one used once, and the top, are not."""
    path = tmp_path / "h.v"
    cell = "  INVX1 _1_ (\n    .A(a),\n    .Y(y)\n  );\n"
    path.write_text(f"module \\$paramod$1\\twice (a, y);\n  input a;\n  output y;\n{cell}endmodule\n"
                    f"module once(a, y);\n  input a;\n  output y;\n{cell}endmodule\n"
                    "module top(a, y);\n  input a;\n  output [2:0] y;\n"
                    + "".join(f"  {m} u{k} (\n    .a(a),\n    .y(y[{k}])\n  );\n"
                              for k, m in enumerate(("\\$paramod$1\\twice ", "\\$paramod$1\\twice ", "once")))
                    + "endmodule\n")
    inlined = gate_netlist.inline_netlist(path, _library(), tmp_path / "i.v", hierarchical=True)
    assert inlined.hier_blocks == {"\\$paramod$1\\twice"} and inlined.build_args == ["--hierarchical"]
    # two cells written, three when every instance is expanded
    assert gate_netlist.hierarchy(path, _library()).flattened_cells("top") == 3
    text = inlined.path.read_text()
    assert text.count(gate_netlist.HIER_BLOCK) == 1
    assert text.index(gate_netlist.HIER_BLOCK) < text.index("module once")
    # renamed to a plain identifier, header and both instances, which Verilator matches
    assert "module asicgen_block0 (a, y);\n" + gate_netlist.HIER_BLOCK + "  // \\$paramod$1\\twice\n" in text
    assert text.count("  asicgen_block0 u") == 2 and "paramod" not in text.replace("// \\$paramod", "")
    flat = gate_netlist.inline_netlist(path, _library(), tmp_path / "f.v")
    assert not flat.hier_blocks and gate_netlist.HIER_BLOCK not in flat.path.read_text()


def test_gatesim_refuses_a_folder_that_is_not_a_mapped_synth(tmp_path):
    with pytest.raises(synth.SynthError, match="not a synthesis report written by `asicgen synth`"):
        gate.gatesim_command(tmp_path, tmp_path / "out", "test")
    for options in ({}, {"faults": 10, "power": True}):
        with pytest.raises(gate.GateSimError, match="--modules 0 skips the streaming run"):
            gate.gatesim_command(tmp_path, tmp_path / "out", "test", modules=0, **options)


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    """The small network at II=8 mapped onto osu018, plain and hardened, and its weights."""
    lib = _library()
    folder = tmp_path_factory.mktemp("small")
    source = _weights_file(folder / "weights.json")
    synth.synth_command(str(source), [8], folder / "syn", "test", library=lib, tmr=True)
    return folder / "syn", source


@pytest.mark.slow
def test_small_netlists_at_gate_level_stream_and_survive_faults(small_synth, tmp_path):
    """With the cells written in place and proven: the image programmed over I2C and read back,
    60 region modules bit-exact; then 150 upsets and 150 transients on each, in two shards side
    by side: the hardened netlist keeps its image and streams bit-exact afterwards, the plain one
    does not (gatesim_command raises otherwise)."""
    syn, source = small_synth
    report = gate.gatesim_command(syn, tmp_path / "gate", "test", weights=source, modules=60, faults=150,
                                  shards=2)
    text = report.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 8 |")]
    streams, campaigns = rows[:2], rows[2:]
    assert {r.split("|")[2].strip() for r in streams} == {"plain", "hardened"}
    assert all("| equal | 60 |" in r for r in streams), streams
    assert "4 tests, 0 failed" in text
    assert len(campaigns) == 2
    hardened = next(r for r in campaigns if "| hardened |" in r).split("|")
    assert hardened[6].strip() == "0" and hardened[7].strip() == "0 (40)", hardened
    figures = {f.build: f for f in gate.read_figures(tmp_path / "gate")}
    assert figures["hardened"].faults["image_bytes_wrong_after"] == 0 and figures["plain"].modules == 60
    plain = figures["plain"].faults
    assert plain["image_bytes_wrong_after"] > 0 or plain["bad_outputs_after"] > 0
    for build in ("plain", "hardened"):
        counts = figures[build].faults
        assert (counts["upsets"], counts["transients"], counts["shards"]) == (150, 150, 2), counts
    shards = next((tmp_path / "gate").glob("faults_*_hardened")) / "shards"
    assert sorted(p.name for p in shards.iterdir()) == ["shard0", "shard1"]


@pytest.mark.slow
def test_per_net_power_of_the_small_plain_netlist(small_synth, tmp_path):
    """The activity of every net while 40 modules stream: the streaming run's extra clocks are
    exactly 40 x II, every cell's output net is counted, a flip-flop output toggles at most
    once per clock, and the power by linearity is checked against OpenSTA's (net_power raises
    otherwise); arithmetic nets toggle more than flip-flops, so the per-net figure is higher."""
    syn, source = small_synth
    lib = _library()
    plain = next(n for n in synth.mapped_netlists(syn) if n.build == "plain")
    weights = gate.netlist_weights(plain, source, 5)
    codes = region_vectors(weights.design, per_region=10, seed=5).codes[:40]
    flat, activity, runs = gate_power.measure_activity(plain.path, lib, weights, codes, tmp_path / "power")
    assert [r.failed for r in runs] == [0, 0]
    assert activity.cycles == 40 * 8 and activity.modules == 40
    power = gate_power.net_power(flat, lib, activity, tmp_path / "sta")
    assert power.unmeasured_cells == 0 and power.measured_cells > 10_000
    flops = gate_power.flip_flop_bits(flat, lib)
    assert max(activity.rate(b) for b in flops) <= 1.0
    assert power.per_net.total_w > power.uniform.total_w > 0


def test_fault_campaigns_split_their_faults_over_shards():
    assert gate_faults.shard_counts(5, 2) == [3, 2]
    assert gate_faults.shard_counts(3, 8) == [1, 1, 1]
    assert gate_faults.shard_counts(0, 4) == [0]
    with pytest.raises(gate_faults.GateFaultError, match="shards: 0"):
        gate_faults.shard_counts(5, 0)


_KEPT = """module dot(a, y);
  input a;
  output y;
  INVX1 _1_ (
    .A(a),
    .Y(y)
  );
endmodule
module ae_top(clk, d, q);
  input clk;
  input d;
  output q;
  wire n;
  dot u0 (
    .a(d),
    .y(n)
  );
  dot u1 (
    .a(n),
    .y(m)
  );
  INVX1 _1_ (
    .A(m),
    .Y(k)
  );
  DFFPOSX1 _2_ (
    .CLK(clk),
    .D(k),
    .Q(q)
  );
endmodule
"""


def test_fault_points_are_drawn_from_the_top_only_and_kept_modules_stay_untouched(tmp_path):
    """A module kept whole (used twice) holds an instance named like one of the top's: only the
    top's cells become points, and only the top's pins get an XOR."""
    lib = _library()
    flat = tmp_path / "flat.v"
    flat.write_text(_KEPT)
    points = gate_faults.fault_points(flat, lib, upsets=5, transients=5, seed=1)
    assert sorted((p.kind, p.instance) for p in points) == [("transient", "_1_"), ("upset", "_2_")]
    text = gate_faults.fault_netlist(flat, points, tmp_path / "faults.v").read_text()
    dot, top = text.split("module ae_top(")
    assert "asicgen_fault" not in dot and dot == _KEPT.split("module ae_top(")[0]
    assert top.count("asicgen_fault[") == 2 and "input [1:0] asicgen_fault;" in top
    assert gate_netlist.repeated_modules(flat, lib) == {"dot"}


@pytest.mark.slow
def test_a_failed_gatesim_keeps_its_folder_marked_failed(small_synth, tmp_path, monkeypatch):
    """A run that fails leaves its folder (builds, logs) for inspection, its manifest marked
    failed, and the error names the folder as given, not the hidden staging one."""
    syn, _ = small_synth

    def failing(library, build):
        (build / "build.log").parent.mkdir(parents=True, exist_ok=True)
        (build / "build.log").write_text("the build's log\n")
        raise gate.GateSimError(f"the cell proof failed; see {build}")

    monkeypatch.setattr(gate, "prove_models", failing)
    out = tmp_path / "gate"
    with pytest.raises(gate.GateSimError) as caught:
        gate.gatesim_command(syn, out, "test")
    message = str(caught.value)
    assert f"see {out / 'cells'}" in message and "staging" not in message and "kept for inspection" in message
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "cell proof failed" in manifest["error"]
    assert (out / "cells" / "build.log").read_text() == "the build's log\n"


@pytest.mark.slow
def test_shards_of_one_build_run_on_a_dask_cluster(proven, tmp_path):
    """The proof harness built once, run as three shards on a local Dask cluster of two worker
    processes: two with the Liberty's reference pass, one whose NAND2 reference is an AND fails;
    each shard ran in its own folder."""
    lib = _library()
    built = build_cocotb(sources=[proven.path], toplevel=cell_models.CHECK_TOP, build_dir=tmp_path / "sim",
                         public=[Public(cell_models.CHECK_TOP, "*")])
    cells = cell_models.check_config(lib)
    wrong = json.loads(json.dumps(cells))
    nand = next(c for c in wrong if c["name"] == "NAND2X1")
    nand["tables"]["Y"] = [1 - bit for bit in nand["tables"]["Y"]]
    configs = [{"cells": c, "seed": seed, "sequential_steps": 500}
               for c, seed in ((cells, 1), (cells, 2), (wrong, 1))]
    client = make_client(Cluster(workers=2))
    try:
        results = run_shards(built, test_module="verif.tb_cells", configs=configs,
                             test_root=tmp_path / "shards", workers=3, executor=client)
    finally:
        client.close()
    assert [r.failed for r in results][:2] == [0, 0] and results[2].failed > 0
    assert [r.results_xml.parent.name for r in results] == ["shard0", "shard1", "shard2"]


def test_a_cluster_file_is_checked(tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text('[cluster]\nkind = "slurm"\nworkers = 4\ncores = 2\n')
    assert load_cluster(path) == Cluster(kind="slurm", workers=4, cores=2)
    path.write_text('[cluster]\nkind = "scheduler"\n')
    with pytest.raises(ConfigError, match="needs address"):
        load_cluster(path)
    path.write_text('[clusters]\nkind = "local"\n')
    with pytest.raises(ConfigError, match="clusters"):
        load_cluster(path)


def test_campaign_reports_merge_their_shards(tmp_path):
    """Two shards' results: faults summed per kind, the worst read-back, the bad outputs of both,
    and the modules each streamed at its end, in the table and in gatesim.json's figures."""
    raw = [{"per_kind": {"upset": {"faults": 3, "spoiled_faults": 1, "bad_outputs": 2},
                         "transient": {"faults": 3, "spoiled_faults": 0, "bad_outputs": 0}},
            "read_back_bytes_differing": 0, "clean_bad_outputs": 0},
           {"per_kind": {"upset": {"faults": 2, "spoiled_faults": 2, "bad_outputs": 5},
                         "transient": {"faults": 2, "spoiled_faults": 1, "bad_outputs": 1}},
            "read_back_bytes_differing": 4, "clean_bad_outputs": 7}]
    per_kind, worst, bad = gate_faults._merge(raw)
    assert per_kind["upset"] == {"faults": 5, "spoiled_faults": 3, "bad_outputs": 7}
    assert per_kind["transient"]["faults"] == 5 and (worst, bad) == (4, 7)
    assert gate_faults._merge([{**raw[0], "read_back_bytes_differing": None}, raw[1]])[1] is None
    result = SimResult(1, 0, 12.0, 30.0, tmp_path / "r.xml")
    campaign = gate_faults.FaultCampaign(tmp_path / "n.v", 1000, 2, per_kind, worst, bad, 2000,
                                         (result, SimResult(1, 0, 12.0, 41.0, tmp_path / "s.xml")))
    netlist = synth.MappedNetlist(Design.build(SMALL), "plain", "chain", "osu018", tmp_path / "n.v")
    row = gate.campaign_markdown([(netlist, campaign)]).splitlines()[-1].split("|")
    assert [c.strip() for c in row[1:-1]] == ["1", "plain", "1,000", "5 (3)", "5 (1)", "4", "7 (2,000)", "2",
                                              "12", "41"]
    assert not campaign.survived and campaign.run_seconds == 41.0 and campaign.failed == 0


def test_a_campaign_without_a_streaming_run_is_reported(tmp_path):
    """`--modules 0`: the report says there was no streaming run, and the figures count the
    netlist's cells from the netlist itself."""
    lib = _library()
    path = tmp_path / "n.v"
    path.write_text(_KEPT)
    netlist = synth.MappedNetlist(Design.build(SMALL), "hardened", "chain", lib.name, path)
    proven = gate.ProvenModels(tmp_path / "cells.v", lib.name, SimResult(4, 0, 6.0, 3.0, tmp_path / "p.xml"))
    text = gate.summary_markdown([], [netlist], proven, "asicgen gatesim syn --modules 0 --faults 5")
    assert "No streaming run (`--modules 0`)" in text and "| II | build |" not in text
    per_kind = {k: {"faults": 5, "spoiled_faults": 0, "bad_outputs": 0} for k in ("upset", "transient")}
    campaign = gate_faults.FaultCampaign(path, 2, 1, per_kind, 0, 0, 40,
                                         (SimResult(1, 0, 1.0, 2.0, tmp_path / "r.xml"),))
    [figures] = gate.netlist_figures([], [netlist], [(netlist, campaign)], [])
    # dot: one cell, used twice; the top: two cells of its own
    assert (figures.cells, figures.flattened_cells, figures.modules) == (3, 4, 0)
    assert figures.faults["upsets"] == 5 and figures.faults["clean_modules_per_shard"] == 40
