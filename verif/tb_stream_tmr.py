"""cocotb tests: verif/tb_stream.py's ae_top tests on the TMR-hardened ae_top.

Launched by verif.flow_check.verify_hardened_top. The hardened netlist is flat: the register
file's registers are three replicas each, directly in ae_top (`u_regfile__weights_q__tmr0..2`,
named by tmr.transform.replica_base), where tb_stream's back door expects
`u_top.u_regfile.weights_q`. So this module gives tb_stream a back door that writes every
replica, and runs tb_stream's own tests with it.
"""

from __future__ import annotations

from typing import Any

from asicgen.weights import WeightSet
from tmr.transform import replica_base
from verif import tb_stream
from verif.flow_check import BACKDOOR_REGISTERS
from verif.tb_stream import (  # noqa: F401  (cocotb collects the tests of this module by name)
    checker_detects_a_wrong_expectation,
    gaps_between_modules_and_disable,
    inputs_faster_than_ii_are_ignored,
    stream_every_vector_in_every_mode,
)


class HardenedBackdoor(tb_stream.TopBackdoor):
    """Weights and control of the hardened ae_top, deposited into all three replicas of each
    register (the copies agree, so no voter flags an error)."""

    def __init__(self, dut: Any):
        self.copies = {name: [getattr(dut.u_top, f"{replica_base(name)}__tmr{k}") for k in range(3)]
                       for name in BACKDOOR_REGISTERS}

    def _write(self, name: str, value: int) -> None:
        for handle in self.copies[name]:
            handle.value = value

    def load_weights(self, weights: WeightSet) -> None:
        self._write("u_regfile.weights_q", int.from_bytes(weights.image(), "little"))

    def set_mode(self, elinks: int) -> None:
        self._write("u_regfile.elinks_q", elinks)

    def set_enable(self, enable: bool) -> None:
        self._write("u_regfile.enable_q", int(enable))


# tb_stream's setup() and start() look the back door up by this name when a test runs; this
# module is the only test module of its simulator process, so the change stays inside it
tb_stream.TopBackdoor = HardenedBackdoor  # type: ignore[misc]
