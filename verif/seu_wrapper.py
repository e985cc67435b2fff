"""The SEU test wrapper `tb_seu_top`: upsets and the output check inside the simulator.

Python in the loop was the limit of the campaign, in two ways (measured on the default
hardened ae_top at II=1, cocotb + Verilator):

* A deposit from Python (VPI) needs the register public and writable, and Verilator must
  then assume it changes at any moment: everything that reads it moves into the logic
  evaluated at every evaluation of the model, several times a clock. For the replicas of
  the weights and of the converter's outputs that is every multiplier: streaming ran at
  ~1,200 clocks/s. So the wrapper makes the upsets, through hierarchical references into
  ae_top; Python names the operation on its ports, and the flip-flops are public read-only
  (for the checks).
* Then driving one module a clock and checking every output in Python took two thirds of
  the time (~2,300 clocks/s). So the wrapper streams a vector file round and round, one
  module per II clocks, and checks every output against the expected file (the Python
  model's), pairing outputs with modules by clock (a module is due `Latency` clocks after
  the edge that samples it), so a corrupted valid flag cannot shift the pairing. It counts
  modules sent, outputs compared and bad outputs (wrong, missing or extra), and keeps the
  clock of the first bad one.

Ports beyond the open-drain I2C bus of verif/tb_ae_top.sv: `stream_on` (stream while high),
the counters, and the injection ports: on every change of `inj_strobe` the wrapper inverts bit
`inj_bit` of (or, with `inj_write`, loads `inj_value` into) the copies `inj_copies` of
register number `inj_target` of the table it was generated for. The device address is a
constant, not a port: as an input it would put the I2C address match, and the register
file's whole write decode behind it, into the logic evaluated at every evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time

from asicgen.core.i2c import DEFAULT_DEVICE_ADDRESS
from tmr.transform import copy_name, replica_base
from verif.params import design_parameters
from verif.vectors import expected_words, pack_rows

WRAPPER = "tb_seu_top"
#: the I2C device address the wrapper gives ae_top
DEVICE = DEFAULT_DEVICE_ADDRESS
INDEX_BITS = 16
BIT_INDEX_BITS = 32
COUNTER_BITS = 32
#: the policy of a target the TMR pass copied once per domain without a voter (a pad
#: synchroniser read by fully triplicated logic): copy k is domain k's
PER_DOMAIN = "domain"


def escaped(name: str) -> str:
    """A flat-netlist name as Verilog writes it: escaped when it holds other characters."""
    return f"\\{name} " if re.search(r"[^A-Za-z0-9_]", name) else name


def flip_flops(name: str, policy: str, hardened: bool) -> list[str]:
    """The Verilog names below ae_top of a register's flip-flops: its three replicas (hardened,
    protected), its three domain copies (hardened, one per domain), the register kept under its
    hierarchical name in the flat netlist (hardened, left single), or its hierarchical path
    (plain build)."""
    if not hardened:
        return [name]
    if policy == PER_DOMAIN:
        return [escaped(name), *(escaped(copy_name(name, k)) for k in (1, 2))]
    if policy != "none":
        return [f"{replica_base(name)}__tmr{k}" for k in range(3)]
    return [escaped(name)]


@dataclass(frozen=True)
class StreamFiles:
    """The vectors the wrapper streams and the outputs it expects, as $readmemh files."""

    stimulus: Path
    expected: Path
    modules: int


def write_stream_files(directory: Path, design: Any, weights: Any, codes: np.ndarray,
                       elinks: int) -> StreamFiles:
    """Write the TC words of `codes` and the bit-exact model's outputs for them (e-link mode
    `elinks`), one hex word a line."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    stimulus, expected = directory / "seu_stimulus.hex", directory / "seu_expected.hex"
    stimulus.write_text("".join(f"{w:x}\n" for w in pack_rows(codes, design.converter.tc_code.bits)))
    expected.write_text("".join(f"{w:x}\n" for w in expected_words(design, weights, codes, elinks)))
    return StreamFiles(stimulus, expected, len(codes))


def _operation(signal: str, width: int, copy: int) -> str:
    """One copy's line of the case statement: invert one bit or load the value."""
    ref = f"u_top.{signal}"
    if width == 1:
        flip, load = f"{ref} = ~{ref};", f"{ref} = inj_value[0];"
    else:
        index = f"inj_bit[{max(1, (width - 1).bit_length()) - 1}:0]"
        flip, load = f"{ref}[{index}] = ~{ref}[{index}];", f"{ref} = inj_value[{width - 1}:0];"
    return f"        if (inj_copies[{copy}]) begin if (inj_write) {load} else {flip} end"


def _cases(table: Sequence[Any], hardened: bool) -> str:
    cases = []
    for index, target in enumerate(table):
        lines = [_operation(signal, target.width, k)
                 for k, signal in enumerate(flip_flops(target.name, target.policy, hardened))]
        head = f"      {INDEX_BITS}'d{index}: begin  // {target.name}"
        cases.append("\n".join([head, *lines, "      end"]))
    return "\n".join(cases)


def _transient_ports(points: int) -> tuple[str, str, str]:
    """(ports, the ae_top connection, the decoder) of a fault-injection build with `points`
    injection points (none: three empty strings)."""
    if not points:
        return "", "", ""
    index_bits = max(1, (points - 1).bit_length())
    ports = (",\n  // a transient: while set_on is high, injection point set_index of the fault-injection\n"
             "  // build is inverted\n  input  logic               set_on,\n"
             f"  input  logic [{index_bits - 1}:0]        set_index")
    decoder = (f"\n  // ---- transients: one injection point inverted while set_on is high ----\n"
               f"  logic [{points - 1}:0] set_mask;\n"
               f"  always_comb set_mask = set_on ? {points}'(1) << set_index : '0;\n")
    return ports, ", .set_mask", decoder


def wrapper_text(table: Sequence[Any], hardened: bool, design: Any, files: StreamFiles,
                 transient_points: int = 0) -> str:
    """The wrapper's Verilog for the registers of `table` (Targets: name, width, policy), in that
    order, streaming `files` through ae_top of `design` (with `transient_points`, the
    fault-injection build of `verif.set_build`, driven by the ports `set_on` and `set_index`)."""
    p = design_parameters(design)
    value_bits = max(t.width for t in table)
    n = COUNTER_BITS
    set_ports, set_connection, set_decoder = _transient_ports(transient_points)
    return f"""// SEU test wrapper, generated by verif/seu_wrapper.py: ae_top on the open-drain I2C bus (as
// verif/tb_ae_top.sv), a stream checker, and upsets made here, by hierarchical references.
module {WRAPPER} #(
  parameter int unsigned NumTc   = {p["NumTc"]},
  parameter int unsigned TcBits  = {p["TcBits"]},
  parameter int unsigned SumBits = {p["SumBits"]},
  parameter int unsigned Units   = {p["Units"]},
  parameter int unsigned OutBits = {p["OutBits"]},
  parameter int unsigned II      = {p["II"]},
  parameter int unsigned Latency = {p["Latency"]},
  parameter int unsigned Modules = {files.modules}
) (
  input  logic               clk,
  input  logic               rst_n,
  output logic [SumBits-1:0] ae_sum,
  output logic [Units*OutBits-1:0] ae_out,
  output logic               ae_valid,
  output logic               tmr_err,
  // I2C controller (cocotbext-i2c) and the resolved bus
  input  logic               ctrl_scl_o,
  input  logic               ctrl_sda_o,
  output logic               scl,
  output logic               sda,
  // stream checker: modules of the stimulus file round and round while stream_on is high
  input  logic               stream_on,
  output logic [{n - 1}:0]        cycle,         // rising edges since reset
  output logic [{n - 1}:0]        sent,          // modules sampled by ae_top
  output logic [{n - 1}:0]        compared,      // outputs compared with the expected file
  output logic [{n - 1}:0]        bad,           // wrong, missing or extra outputs
  output logic [{n - 1}:0]        first_bad,     // the clock of the first bad output (0: none)
  // each change of inj_strobe: on the copies inj_copies of register inj_target, invert bit
  // inj_bit (inj_write = 0) or load inj_value (inj_write = 1)
  input  logic               inj_strobe,
  input  logic [{INDEX_BITS - 1}:0]        inj_target,
  input  logic [2:0]         inj_copies,
  input  logic               inj_write,
  input  logic [{BIT_INDEX_BITS - 1}:0]        inj_bit,
  input  logic [{value_bits - 1}:0] inj_value{set_ports}
);
  logic target_sda_o;
  logic [NumTc*TcBits-1:0] tc;
  logic tc_valid;

  assign scl = ctrl_scl_o;
  assign sda = ctrl_sda_o & target_sda_o;

  ae_top u_top (
    .clk, .rst_n, .scl_i(scl), .sda_i(sda), .sda_o(target_sda_o), .i2c_addr(7'h{DEVICE:02x}),
    .tc_in(tc), .tc_valid, .ae_sum, .ae_out, .ae_valid, .tmr_err{set_connection}
  );
{set_decoder}
  // ---- stream checker ----
  logic [NumTc*TcBits-1:0]          stimulus [Modules];
  logic [SumBits+Units*OutBits-1:0] expected [Modules];
  initial begin
    $readmemh("{files.stimulus}", stimulus);
    $readmemh("{files.expected}", expected);
  end

  int unsigned index, next_index, phase;
  // due[k]: a module was sampled k+1 edges ago, due_index[k] its line; its outputs are on the
  // ports during the clock before the edge Latency edges after the one that sampled it
  logic        due [Latency];
  int unsigned due_index [Latency];

  // the line after the module on the bus, once ae_top has sampled it
  always_comb next_index = !tc_valid ? index : (index + 1 == Modules ? 0 : index + 1);

  always_ff @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      tc <= '0;
      tc_valid <= 1'b0;
      index <= 0;
      phase <= 0;
      cycle <= '0;
      sent <= '0;
      compared <= '0;
      bad <= '0;
      first_bad <= '0;
      for (int k = 0; k < Latency; k++) begin
        due[k] <= 1'b0;
        due_index[k] <= 0;
      end
    end else begin
      cycle <= cycle + 1;
      if (due[Latency-1]) begin
        compared <= compared + 1;
        if (!ae_valid || {{ae_sum, ae_out}} != expected[due_index[Latency-1]]) begin
          bad <= bad + 1;
          if (first_bad == '0) first_bad <= cycle + 1;
        end
      end else if (ae_valid) begin
        bad <= bad + 1;
        if (first_bad == '0) first_bad <= cycle + 1;
      end
      due[0] <= tc_valid;
      due_index[0] <= index;
      for (int k = 1; k < Latency; k++) begin
        due[k] <= due[k-1];
        due_index[k] <= due_index[k-1];
      end
      if (tc_valid) sent <= sent + 1;
      // the next module: one every II clocks while stream_on is high
      index <= next_index;
      tc <= stimulus[next_index];
      tc_valid <= stream_on && phase == 0;
      phase <= (phase + 1 == II) ? 0 : phase + 1;
    end
  end

  // ---- upsets: each holds until the register is next written, exactly like a particle hit ----
  always @(inj_strobe) begin
    case (inj_target)
{_cases(table, hardened)}
      default: ;
    endcase
  end
endmodule
"""


def write_wrapper(path: Path, table: Sequence[Any], hardened: bool, design: Any, files: StreamFiles,
                  transient_points: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(wrapper_text(table, hardened, design, files, transient_points))
    return path


class InjectionPort:
    """The cocotb side of the wrapper's injection ports."""

    def __init__(self, dut: Any, names: Sequence[str]):
        self.dut = dut
        self.index = {name: k for k, name in enumerate(names)}
        self._last_step: int | None = None

    def apply(self, register: str, copies: Iterable[int], bit: int = 0, value: int | None = None) -> None:
        """Invert `bit` of (or, given `value`, load it into) the `copies` of `register`.

        The writes land together in this time step's read-write phase; the wrapper sees only
        the last operation of a time step, so a second one in the same step is refused."""
        now = get_sim_time("step")
        if now == self._last_step:
            raise RuntimeError("one injection per time step: the wrapper would see only the last")
        self._last_step = now
        dut = self.dut
        dut.inj_target.value = self.index[register]
        dut.inj_copies.value = sum(1 << c for c in set(copies))
        dut.inj_write.value = int(value is not None)
        dut.inj_bit.value = bit
        if value is not None:
            dut.inj_value.value = value
        # a change triggers the wrapper: start from the level the port holds (an earlier test's)
        dut.inj_strobe.value = 1 - int(dut.inj_strobe.value)


class StreamChecker:
    """The cocotb side of the wrapper's stream checker."""

    def __init__(self, dut: Any, latency: int):
        self.dut, self.latency = dut, latency

    def cycle(self) -> int:
        return int(self.dut.cycle.value)

    def bad(self) -> int:
        return int(self.dut.bad.value)

    def start(self) -> None:
        self.dut.stream_on.value = 1

    async def stop(self) -> None:
        """Stop sending, and wait until the last module's output has been checked."""
        self.dut.stream_on.value = 0
        await ClockCycles(self.dut.clk, self.latency + 3)

    def counts(self) -> dict[str, int]:
        d = self.dut
        return {"modules_sent": int(d.sent.value), "modules_compared": int(d.compared.value),
                "bad_outputs": int(d.bad.value), "first_bad_clock": int(d.first_bad.value)}
