"""Switching activity from Verilator toggle coverage (verif.activity)."""

from collections import Counter

import numpy as np
import pytest

from asicgen.core import golden
from asicgen.core.arch import EncoderArch
from asicgen.core.codec import encode_tc
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from training.data import region_modules
from training.regions import resolve_region
from verif.activity import (
    Activity,
    datapath_activity,
    measure_activity,
    read_toggles,
    unwind_wide_counts,
)
from verif.runner import SimulationError


def _point(scope: str, bit: str, direction: str, count: int) -> str:
    fields = {"f": "x.sv", "l": "1", "t": "toggle", "page": "v_toggle/x", "o": f"{bit}:{direction}",
              "h": scope}
    return "C '" + "".join(f"\x01{k}\x02{v}" for k, v in fields.items()) + f"' {count}\n"


def test_register_toggles_per_clock(tmp_path):
    lines = ["# SystemC::Coverage-3\n",
             _point("tb_bulk", "clk", "0->1", 100), _point("tb_bulk", "clk", "1->0", 100),
             # registers: 30 + 20 and 10 + 0 toggles over 100 clocks
             _point("tb_bulk.u_core.u_encoder", "y_q[0]", "0->1", 30),
             _point("tb_bulk.u_core.u_encoder", "y_q[0]", "1->0", 20),
             _point("tb_bulk.u_core", "valid_q", "0->1", 10), _point("tb_bulk.u_core", "valid_q", "1->0", 0),
             # combinational nets and the testbench are left out
             _point("tb_bulk.u_core.u_encoder", "partial[3]", "0->1", 900),
             _point("tb_bulk", "tc[0]", "0->1", 50)]
    path = tmp_path / "coverage.dat"
    path.write_text("".join(lines))
    toggles, cycles = read_toggles(path)
    assert cycles == 100 and toggles[("tb_bulk.u_core.u_encoder", "y_q[0]")] == 50
    activity = datapath_activity(toggles, cycles, "test")
    assert activity == Activity(0.3, 2, 100, "test")
    assert activity.global_rate(0.5) == pytest.approx(0.15)


def test_a_file_without_the_clock_is_refused(tmp_path):
    path = tmp_path / "coverage.dat"
    path.write_text(_point("tb_bulk.u_core", "valid_q", "0->1", 10))
    with pytest.raises(SimulationError, match="no toggles of the testbench clock"):
        read_toggles(path)


def test_wide_signal_counts_are_unwound():
    """Verilator reports for bit 32k+b of a signal wider than 64 bits the sum of the toggles of
    bits b, 32+b, ..., 32k+b; narrow signals are left as they are."""
    true = {i: 3 * i + 1 for i in range(100)}
    reported = Counter({("s", f"w_q[{i}]"): sum(true[j] for j in range(i % 32, i + 1, 32)) for i in true})
    reported[("s", "n_q[40]")] = 7  # a 41-bit signal: one machine word, counted as it is
    reported[("s", "valid_q")] = 5
    fixed = unwind_wide_counts(reported)
    assert all(fixed[("s", f"w_q[{i}]")] == true[i] for i in true)
    assert fixed[("s", "n_q[40]")] == 7 and fixed[("s", "valid_q")] == 5


@pytest.mark.slow
def test_measured_register_toggles_equal_the_models(tmp_path):
    """The converter's input register (48 inputs x 8 bits, whatever the network) streaming region
    data: the toggles Verilator counts, unwound, are the toggles of the bit-exact model's
    normalised inputs."""
    design = Design.build(EncoderArch(conv_filters=2, dense_units=4))
    weights = WeightSet.random(design, np.random.default_rng(2))
    charges = region_modules(resolve_region("cee_mid"), 5, 300).calq
    generate_rtl(tmp_path / "rtl", design, "test", "chain")
    measure_activity(weights, charges, 4, tmp_path / "rtl", tmp_path / "work", "test")
    toggles, _ = read_toggles(tmp_path / "work" / "coverage0.dat")
    fixed = unwind_wide_counts(toggles)
    inputs, _ = golden.convert(design, encode_tc(np.asarray(charges)))
    bits = design.converter.output_type.bits
    values = ((inputs[:, :, None] >> np.arange(bits)) & 1).reshape(len(inputs), -1)
    model = (values[1:] != values[:-1]).sum(axis=0)
    measured = np.array([fixed[("tb_bulk.u_core.u_converter", f"x_q[{i}]")] for i in range(values.shape[1])])
    assert values.shape[1] > 64 and model.sum() > 1000
    # the first module's values are one more transition out of reset
    assert np.all((measured - model >= 0) & (measured - model <= 1)), np.flatnonzero(measured - model > 1)
