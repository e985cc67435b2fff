"""Switching activity from Verilator toggle coverage (verif.activity)."""

import pytest

from verif.activity import Activity, datapath_activity, read_toggles
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
