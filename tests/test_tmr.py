"""The TMR pass on RTL in the style of HLS output, and what it refuses."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from tmr.equiv import equivalence, netlist_equivalence
from tmr.flow import VERILOG_LINE_WIDTH, harden_sources, prove_hardening, wrap_verilog, write_hardened
from tmr.policy import DEFAULT_POLICY, Policy
from tmr.transform import TmrError, flag_net, replica_base
from tmr.yosys import YosysError, run_yosys, stage_sources
from verif.runner import verilator_environment

# Small designs as an HLS tool writes them: asynchronous and synchronous resets,
# enables, a one-hot state machine, a generate loop over a parameter, a submodule.
HLS_STYLE = {
    "fsm_pipeline.v": """
module stage #(parameter W = 8) (input clk, input rst, input en, input [W-1:0] d, output reg [W-1:0] q);
  always @(posedge clk or posedge rst)
    if (rst) q <= {W{1'b0}};
    else if (en) q <= d;
endmodule

module fsm_pipeline #(parameter W = 8, parameter N = 3) (
  input clk, input rst, input start, input [W-1:0] din, output [W-1:0] dout, output busy
);
  // one-hot state machine: IDLE, RUN, DONE
  reg [2:0] state;
  localparam IDLE = 3'b001, RUN = 3'b010, DONE = 3'b100;
  reg [3:0] count;
  always @(posedge clk or posedge rst) begin
    if (rst) begin state <= IDLE; count <= 4'd0; end
    else case (state)
      IDLE: if (start) begin state <= RUN; count <= 4'd0; end
      RUN: begin count <= count + 4'd1; if (count == 4'd5) state <= DONE; end
      DONE: state <= IDLE;
      default: state <= IDLE;
    endcase
  end
  assign busy = state[1];
  wire [W-1:0] chain [0:N];
  assign chain[0] = din;
  genvar i;
  generate for (i = 0; i < N; i = i + 1) begin : g_stage
    stage #(.W(W)) u_stage (.clk(clk), .rst(rst), .en(busy), .d(chain[i] + i), .q(chain[i+1]));
  end endgenerate
  assign dout = chain[N];
endmodule
""",
    "sync_acc.sv": """
module sync_acc (input logic clk_i, input logic rst_ni, input logic clear_i, input logic [7:0] x_i,
                 output logic [11:0] acc_o);
  logic [11:0] acc_d, acc_q;
  always_comb acc_d = clear_i ? 12'd0 : acc_q + {4'd0, x_i};
  always_ff @(posedge clk_i) if (!rst_ni) acc_q <= '0; else acc_q <= acc_d;
  assign acc_o = acc_q;
endmodule
""",
    "mac_pipe.v": """
module mac #(parameter W = 8) (input [W-1:0] a, input [W-1:0] b, input [2*W-1:0] c, output [2*W-1:0] y);
  assign y = a * b + c;
endmodule

module mac_pipe (input clk, input rst_n, input [7:0] x, input [7:0] w0, input [7:0] w1,
                 output reg [15:0] y);
  reg [15:0] s1;
  wire [15:0] m0, m1;
  mac #(.W(8)) u_mac0 (.a(x), .b(w0), .c(16'd0), .y(m0));
  mac #(.W(8)) u_mac1 (.a(x), .b(w1), .c(s1), .y(m1));
  always @(posedge clk or negedge rst_n)
    if (!rst_n) begin s1 <= 16'd0; y <= 16'd0; end
    else begin s1 <= m0; y <= m1; end
endmodule
""",
}
SMALL = EncoderArch(conv_filters=2, dense_units=4)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ff_count(verilog: Path, top: str, workdir: Path) -> int:
    """Flip-flops after a full, flattening yosys synthesis (ABC included)."""
    staged = stage_sources([verilog], workdir)
    run_yosys(f'read_verilog -sv "{staged[0]}"\nsynth -flatten -top {top}\n'
              "tee -q -o stat.json stat -json\n", workdir, "synth.log")
    cells = json.loads((workdir / "stat.json").read_text())["modules"][f"\\{top}"]["num_cells_by_type"]
    return sum(int(n) for cell, n in cells.items() if cell.startswith(("$_DFF", "$_SDFF")))


@pytest.mark.parametrize(("name", "top", "bits"), [("fsm_pipeline.v", "fsm_pipeline", 3 + 4 + 3 * 8),
                                                   ("sync_acc.sv", "sync_acc", 12),
                                                   pytest.param("mac_pipe.v", "mac_pipe", 32,
                                                                marks=pytest.mark.slow)])
def test_hls_style_rtl_is_triplicated_survives_synthesis_and_stays_equivalent(name, top, bits, tmp_path):
    source = write(tmp_path, name, HLS_STYLE[name])
    hardened = harden_sources([source], Policy.from_raw({}), top)
    report = hardened.report
    assert report.protected_bits == bits and report.bits_after == 3 * bits
    assert all(reg.policy == DEFAULT_POLICY for reg in report.triplicated)
    out = tmp_path / "hardened.v"
    write_hardened(hardened, out)
    assert "__tmr0" in out.read_text() and out.with_suffix(".tmr.md").is_file()
    # three copies of every flip-flop survive a full synthesis
    assert ff_count(source, top, tmp_path / "plain") == bits
    assert ff_count(out, top, tmp_path / "hard") == 3 * bits
    # with no upsets, hardened == plain (the added error port is a constant 0 on the plain side)
    result = equivalence([source], out, top, tmp_path / "equiv", added_port="tmr_err")
    assert result.unproven == 0 and result.proven > bits


def test_equivalence_check_can_fail(tmp_path):
    source = write(tmp_path, "sync_acc.sv", HLS_STYLE["sync_acc.sv"])
    out = tmp_path / "hardened.v"
    write_hardened(harden_sources([source], Policy.from_raw({}), "sync_acc"), out)
    text = out.read_text()
    # break one replica's next-state input: the copies then disagree
    broken = re.sub(r"acc_q__tmr0 <= (\w+);", r"acc_q__tmr0 <= ~\1;", text, count=1)
    assert broken != text
    out.write_text(broken)
    result = equivalence([source], out, "sync_acc", tmp_path / "equiv", added_port="tmr_err")
    assert result.unproven > 0


def test_stateless_submodules_stay_instances(tmp_path):
    """A submodule without state has nothing to triplicate: it stays one module, instantiated
    where it was, on both sides of the netlist proof."""
    source = write(tmp_path, "mac_pipe.v", HLS_STYLE["mac_pipe.v"])
    hardened, result = prove_hardening([source], Policy.from_raw({}), "mac_pipe", tmp_path / "proof")
    assert result.unproven == 0
    text = hardened.verilog
    assert text.count("module mac__") == 1 and "u_mac0" in text and "u_mac1" in text
    assert "s1__tmr2" in text and "mac__" not in "".join(r.name for r in hardened.report.triplicated)


def _mutated_gate(proof: Path, mutate) -> Path:
    gate = json.loads((proof / "harden" / "hardened.json").read_text())
    mutate(gate["modules"])
    path = proof / "broken.json"
    path.write_text(json.dumps(gate))
    return path


def test_netlist_proof_can_fail(tmp_path):
    source = write(tmp_path, "sync_acc.sv", HLS_STYLE["sync_acc.sv"])
    proof = tmp_path / "proof"
    _, result = prove_hardening([source], Policy.from_raw({}), "sync_acc", proof)
    assert result.unproven == 0

    def add_becomes_sub(modules):
        adders = [c for c in modules["sync_acc"]["cells"].values() if c["type"] == "$add"]
        adders[0]["type"] = "$sub"

    broken = _mutated_gate(proof, add_becomes_sub)
    result = netlist_equivalence(proof / "plain" / "plain.json", broken, "sync_acc", tmp_path / "eq",
                                 added_port="tmr_err")
    assert result.unproven > 0


def test_netlist_proof_refuses_a_submodule_that_differs(tmp_path):
    source = write(tmp_path, "mac_pipe.v", HLS_STYLE["mac_pipe.v"])
    proof = tmp_path / "proof"
    prove_hardening([source], Policy.from_raw({}), "mac_pipe", proof)

    def change_submodule(modules):
        mac = next(m for name, m in modules.items() if name.startswith("mac__"))
        next(c for c in mac["cells"].values() if c["type"] == "$add")["type"] = "$sub"

    broken = _mutated_gate(proof, change_submodule)
    with pytest.raises(YosysError, match="submodule 'mac__.*' differs"):
        netlist_equivalence(proof / "plain" / "plain.json", broken, "mac_pipe", tmp_path / "eq",
                            added_port="tmr_err")


def test_policy_rules_and_attributes_choose_per_register(tmp_path):
    source = write(tmp_path, "fsm_pipeline.v", HLS_STYLE["fsm_pipeline.v"])
    policy = Policy.from_raw({"rules": [{"match": "g_stage*", "policy": "pipeline", "class": "data"},
                                        {"match": "count", "policy": "none"}],
                              "classes": ["control", "data"], "default": "full"})
    report = harden_sources([source], policy, "fsm_pipeline").report
    policies = {reg.name: (reg.policy, reg.error_class) for reg in report.triplicated}
    assert policies["state"] == ("full", "control")
    assert all(policies[n] == ("pipeline", "data") for n in policies if n.startswith("g_stage"))
    # with full module triplication, a single register read by a `full` register's logic is
    # copied once per domain (not voted)
    assert [reg.name for reg in report.single + report.per_domain] == ["count"]
    assert report.error_classes == {"control": 1, "data": 3}


@pytest.mark.parametrize(("text", "message"), [
    ("module m(input en, input d, output reg q); always @* if (en) q = d; endmodule",
     r"cell .*\$dlatch.* at .*m.v:1.*a latch"),
    ("module m(input en, input d, output q); assign q = en ? d : 1'bz; endmodule",
     r"a tri-state driver"),
    ("module m(input c1, input c2, input d, output reg q1, output reg q2);\n"
     "always @(posedge c1) q1 <= d;\nalways @(posedge c2) q2 <= d;\nendmodule",
     r"several clock domains: c1 .*; c2 .*name every clock"),
    ("(* blackbox *) module ip(input clk, input d, output q); endmodule\n"
     "module m(input clk, input d, output q); ip u_ip(.clk(clk), .d(d), .q(q)); endmodule",
     r"cell u_ip \(ip\) at .*m.v:2.*unknown cell"),
])
def test_unsafe_constructs_are_refused_with_their_location(text, message, tmp_path):
    source = write(tmp_path, "m.v", text)
    with pytest.raises(TmrError, match=message):
        harden_sources([source], Policy.from_raw({}), "m")


def test_two_clocks_are_accepted_when_the_policy_names_them(tmp_path):
    source = write(tmp_path, "m.v", "module m(input c1, input c2, input d, output reg q1, output reg q2);\n"
                                    "always @(posedge c1) q1 <= d;\nalways @(posedge c2) q2 <= d;\nendmodule")
    report = harden_sources([source], Policy.from_raw({"clocks": ["c1", "c2"]}), "m").report
    assert report.protected_bits == 2


def test_policy_file_errors_name_the_path(tmp_path):
    from asicgen.core.raw import ConfigError

    with pytest.raises(ConfigError, match=r"policy.rules\[0\].policy: 'triple' is not one of"):
        Policy.from_raw({"rules": [{"match": "*", "policy": "triple"}]})
    with pytest.raises(ConfigError, match=r"policy: unknown key\(s\) rule"):
        Policy.from_raw({"rule": []})


def test_wrap_verilog_breaks_long_lines_only_where_whitespace_is_allowed():
    # escaped identifiers hold commas and end at the space before the list's comma, as yosys writes them
    escaped = [f"\\u_a.b[{i}],c " for i in range(40)]
    spaced = "  assign y = { " + ", ".join(escaped + [f"w_{i}" for i in range(40)]) + " };"
    unspaced = "  assign z = {" + ",".join(f"n_{i}" for i in range(60)) + "};"
    literal = '"' + ", ".join(f"s{i}" for i in range(40)) + '"'
    attribute = f"  (* src = {literal} *) wire v;"
    comment = "  // " + ", ".join(f"c{i}" for i in range(40))
    block_end = ", ".join(f"b{i}" for i in range(40)) + " */"
    directive = "`define LIST " + ", ".join(f"d{i}" for i in range(40))
    text = "\n".join(["module m;", spaced, unspaced, attribute, comment, "  /* a block comment,",
                      block_end + " wire u;", directive, "endmodule", ""])
    wrapped = wrap_verilog(text, width=60)
    out = wrapped.split("\n")

    assert "".join(wrapped.split()) == "".join(text.split())  # only whitespace changed
    assert re.findall(r"\\\S+", wrapped) == re.findall(r"\\\S+", text)  # escaped names intact
    assert literal in wrapped and comment in out and block_end in out and directive in out
    y_lines = out[1:next(i for i, line in enumerate(out) if line.startswith("  assign z"))]
    assert len(y_lines) > 5 and all(len(line) <= 60 for line in y_lines)
    assert all(line.endswith(",") for line in y_lines[:-1])  # breaks fall between list items
    assert all(line.startswith("      ") for line in y_lines[1:])  # one step deeper than the line
    z_lines = [line for line in out if "n_" in line]
    assert len(z_lines) > 5 and all(len(line) <= 60 for line in z_lines)
    assert wrap_verilog(wrapped, width=60) == wrapped
    assert wrap_verilog(text, width=10_000) == text


def long_lines(text: str) -> list[str]:
    """Lines longer than the writer's limit that hold more than one token outside a comment."""
    return [line for line in text.splitlines() if len(line) > VERILOG_LINE_WIDTH
            and not line.lstrip().startswith(("//", "/*")) and len(line.split()) > 1]


def verilator_lint(path: Path, top: str) -> subprocess.CompletedProcess:
    verilator_environment()
    return subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "--top-module", top, str(path)],
                          capture_output=True, text=True, check=False)


WIDE = """
module wide(input clk, input [511:0] d, output reg [511:0] q);
  integer i;
  always @(posedge clk) for (i = 0; i < 512; i = i + 1) q[i] <= d[511 - i];
endmodule
"""


def test_wide_register_is_written_as_vectors_and_wrapped(tmp_path):
    """The voter of a 512-bit register is written as vector operations on named wires, not as
    concatenations of one-bit wires; the long line yosys writes for the bit reversal is wrapped;
    the netlist reads in Verilator and yosys and is still equivalent to the source."""
    source = write(tmp_path, "wide.v", WIDE)
    harden_sources([source], Policy.from_raw({}), "wide", tmp_path / "work")
    assert long_lines((tmp_path / "work" / "hardened.v").read_text())  # as yosys wrote it
    assert main(["tmr", str(source), "-o", str(tmp_path / "out.v")]) == 0
    text = (tmp_path / "out.v").read_text()
    assert not long_lines(text)
    assert "assign q__diff__y = q__diff_ab__y | (* keep = 32'd1 *) q__diff_ac__y;" in text
    assert re.search(rf"assign {flag_net(DEFAULT_POLICY)} = \| \(\* keep = 32'd1 \*\) q__diff__y;", text)
    assert "assign {" not in text  # no concatenation of one-bit wires anywhere
    lint = verilator_lint(tmp_path / "out.v", "wide")
    assert lint.returncode == 0, lint.stderr[-2000:]
    result = equivalence([source], tmp_path / "out.v", "wide", tmp_path / "equiv", added_port="tmr_err")
    assert result.unproven == 0 and result.proven > 512


def test_tmr_command(tmp_path, capsys):
    source = write(tmp_path, "sync_acc.sv", HLS_STYLE["sync_acc.sv"])
    assert main(["tmr", str(source), "-o", str(tmp_path / "out.v")]) == 0
    assert "1 registers (12 bits) triplicated" in capsys.readouterr().err
    text = (tmp_path / "out.v").read_text()
    assert "do not edit" in text.splitlines()[0] and "acc_q__tmr2" in text
    bad = write(tmp_path, "latch.v",
                "module l(input e, input d, output reg q); always @* if (e) q = d; endmodule")
    assert main(["tmr", str(bad), "-o", str(tmp_path / "l.v")]) == 2
    assert "a latch" in capsys.readouterr().err and not (tmp_path / "l.v").exists()


@pytest.mark.slow
@pytest.mark.parametrize("ii", [1, 4])
def test_hardened_ae_top_is_equivalent_and_every_replica_survives_synthesis(ii, tmp_path):
    """The whole ae_top (datapath, register file with every weight, I2C target), hardened
    with the ae_top policy: formally equivalent to the plain one with no upsets, and a yosys
    synthesis keeps three copies of every protected flip-flop. A small network (188 weights)
    keeps it within CI time; the logic is the same generator's."""
    from asicgen.core.design import Design
    from asicgen.harden import generate_hardened_top
    from asicgen.rtl import FILE_ORDER, generate_rtl
    from asicgen.synth import synthesise_rtl
    from asicgen.tmr_policy import ae_top_policy
    from tmr.flow import check_survival

    design = Design.build(SMALL, ii)
    rtl = tmp_path / "rtl"
    generate_rtl(rtl, design, "test")
    hardened, result = prove_hardening([rtl / n for n in FILE_ORDER], ae_top_policy(), "ae_top",
                                       tmp_path / "proof")
    report = hardened.report
    assert {r.error_class for r in report.triplicated} == {"weights", "config", "fsm", "datapath"}
    assert report.protected_bits > design.image_bits
    assert result.unproven == 0 and result.proven > report.protected_bits

    generate_hardened_top(rtl, tmp_path / "rtl_tmr", design, "test")
    # the written netlist is wrapped (yosys wrote long lines) and reads in Verilator and yosys
    assert long_lines((tmp_path / "proof" / "harden" / "hardened.v").read_text())
    assert not long_lines((tmp_path / "rtl_tmr" / "ae_top.v").read_text())
    lint = verilator_lint(tmp_path / "rtl_tmr" / "ae_top.v", "ae_top")
    assert lint.returncode == 0, lint.stderr[-2000:]
    synthesised = synthesise_rtl(tmp_path / "rtl_tmr", tmp_path / "synth", depth=False)
    assert synthesised.flops == 3 * (report.protected_bits + report.per_domain_bits) + report.single_bits
    assert check_survival(synthesised.flops, report).startswith("flip-flops after synthesis")
    with pytest.raises(TmrError, match="replicas or domain copies were merged or removed"):
        check_survival(synthesised.flops - 1, report)


def test_placement_groups_keep_the_copies_apart(tmp_path):
    """rtl_tmr/tmr_placement.tcl: three groups, one per copy; each flip-flop of a state register's
    copy k (and domain k's voters) matched by group k's patterns and by no other group; the Innovus
    procedure, run in a Tcl interpreter with the two commands recorded, makes three fences side by
    side in the core box."""
    import fnmatch

    tkinter = pytest.importorskip("tkinter")
    from asicgen.core.design import Design
    from asicgen.harden import generate_hardened_top
    from asicgen.rtl import generate_rtl
    from tmr.placement import PLACEMENT_FILE

    design = Design.build(EncoderArch(conv_filters=2, dense_units=4), 1)
    generate_rtl(tmp_path / "rtl", design, "test")
    report = generate_hardened_top(tmp_path / "rtl", tmp_path / "rtl_tmr", design, "test").report
    tcl = tkinter.Tcl()
    tcl.eval("set calls {}\n"
             "proc createInstGroup {args} { global calls; lappend calls [list group {*}$args] }\n"
             "proc addInstToInstGroup {args} { global calls; lappend calls [list add {*}$args] }")
    tcl.eval(f"source {{{tmp_path / 'rtl_tmr' / PLACEMENT_FILE}}}")
    tcl.eval("tmr_fence_innovus 0 0 300 100")
    calls = [tcl.splitlist(c) for c in tcl.splitlist(tcl.eval("set calls"))]
    fences = [c[1:] for c in calls if c[0] == "group"]
    assert [(f[0], [float(x) for x in f[2:]]) for f in fences] == [
        (f"tmr_copy{k}", [100.0 * k, 0.0, 100.0 * (k + 1), 100.0]) for k in range(3)]
    patterns: dict[str, list[str]] = {}
    for c in calls:
        if c[0] == "add":
            patterns.setdefault(c[1], []).append(c[2])
    netlist = (tmp_path / "rtl_tmr" / "ae_top.v").read_text()
    regs = re.findall(r"^\s*reg (?:\[[^\]]*\] )?\\?([^\s;]+)", netlist, re.M)
    state = [r for r in report.triplicated if r.policy == "full"]
    for k in range(3):
        members = {r for r in regs if any(fnmatch.fnmatchcase(r, p) for p in patterns[f"tmr_copy{k}"])}
        assert all(f"{replica_base(r.name)}__tmr{k}" in members for r in state)
        others = [f"tmr_copy{j}" for j in range(3) if j != k]
        assert not any(fnmatch.fnmatchcase(r, p) for r in members for g in others for p in patterns[g])
        assert f"*_vote_d{k}_m*" in patterns[f"tmr_copy{k}"]
    # the datapath's pipeline copies are left to the placer
    assert not any("u_core" in p for ps in patterns.values() for p in ps)
