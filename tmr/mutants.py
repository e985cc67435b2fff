"""Broken TMR transforms, to show that the proof (`tmr.proof`) fails on them.

Each mutant takes the hardened netlist the pass wrote (yosys JSON, as a dict) and returns a
copy with one register hardened wrongly, the way a faulty pass would have written it. The
registers are named as in the TMR report (`u_regfile.weights_q`); their cells and nets are
found by the names the pass gives them (`tmr.transform.replica_base`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tmr.transform import replica_base

Design = dict[str, Any]


def _cells(design: Design, top: str) -> dict[str, Any]:
    return design["modules"][top]["cells"]


def _replica_q(cells: dict[str, Any], register: str, k: int) -> list:
    return cells[f"{replica_base(register)}__tmr{k}_ff"]["connections"]["Q"]


def _vote(cells: dict[str, Any], register: str) -> str:
    """The voter whose output is the register's own wire: the one voter, or domain 0's."""
    base = replica_base(register)
    return f"{base}__vote" if f"{base}__vote" in cells else f"{base}__vote_d0"


def _errors(cells: dict[str, Any], register: str) -> list[str]:
    """The cells computing the register's error bit (one, or one per domain)."""
    base = replica_base(register)
    return [n for n in (f"{base}__err_reduce", *(f"{base}__err_reduce_d{k}" for k in range(3))) if n in cells]


def missing_voter(design: Design, top: str, register: str, other: str) -> Design:
    """The register's wire driven by its first copy alone: no voter."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    voter = cells[_vote(cells, register)]
    width = len(voter["connections"]["Y"])
    voter.update(type="$pos", parameters={"A_SIGNED": 0, "A_WIDTH": width, "Y_WIDTH": width},
                 port_directions={"A": "input", "Y": "output"},
                 connections={"A": list(_replica_q(cells, register, 0)), "Y": voter["connections"]["Y"]})
    return out


def replica_to_wrong_voter(design: Design, top: str, register: str, other: str) -> Design:
    """Bit 0 of the register's third copy swapped, in its voter, for bit 0 of another
    register's third copy."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    mine, theirs = _replica_q(cells, register, 2)[0], _replica_q(cells, other, 2)[0]
    vote = _vote(cells, register)
    for name in (f"{vote}_ac", f"{vote}_bc"):
        for port, bits in cells[name]["connections"].items():
            cells[name]["connections"][port] = [theirs if b == mine else b for b in bits]
    return out


def minority_voter(design: Design, top: str, register: str, other: str) -> Design:
    """A voter that needs all three copies to agree on a one ((ab | ac) & bc)."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    cells[_vote(cells, register)]["type"] = "$and"
    return out


def left_single(design: Design, top: str, register: str, other: str) -> Design:
    """The register left single although the policy protects it: one flip-flop on its wire,
    no copies, no voter, no error term."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    base = replica_base(register)
    voted = cells[_vote(cells, register)]["connections"]["Y"]
    error = [b for name in _errors(cells, register) for b in cells[name]["connections"]["Y"]]
    for k in (1, 2):  # domain k's logic reads the single register too
        if f"{base}__vote_d{k}" in cells:
            _rewire(cells, cells[f"{base}__vote_d{k}"]["connections"]["Y"], voted, set())
    single = copy.deepcopy(cells[f"{base}__tmr0_ff"])
    single["connections"]["Q"] = list(voted)
    single["attributes"] = {}
    for name in [n for n in cells if n.startswith(f"{base}__")]:
        del cells[name]
    cells[f"{base}__single_ff"] = single
    for cell in cells.values():
        for port, bits in cell["connections"].items():
            cell["connections"][port] = ["0" if b in error else b for b in bits]
    return out


def error_to_output(design: Design, top: str, register: str, other: str) -> Design:
    """The chip's error output ORed with the voters' comparisons of this clock: a combinational
    path from the comparators to a pin (what a registered `tmr_err` forbids)."""
    out = copy.deepcopy(design)
    module = out["modules"][top]
    cells = module["cells"]
    port_bit = module["ports"]["tmr_err"]["bits"][0]
    error = cells[_errors(cells, register)[0]]["connections"]["Y"][0]
    fresh = 1 + max(b for c in cells.values() for bits in c["connections"].values() for b in bits
                    if isinstance(b, int))
    for cell in cells.values():
        drives_pin = cell["connections"].get("Y") == [port_bit]
        if drives_pin and cell.get("port_directions", {}).get("Y") == "output":
            cell["connections"]["Y"] = [fresh]
    cells["mutant_err_or"] = {"hide_name": 0, "type": "$or", "attributes": {},
                              "parameters": {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": 1, "B_WIDTH": 1,
                                             "Y_WIDTH": 1},
                              "port_directions": {"A": "input", "B": "input", "Y": "output"},
                              "connections": {"A": [fresh], "B": [error], "Y": [port_bit]}}
    return out


def _voted(cells: dict[str, Any], register: str, domain: int) -> list:
    return cells[f"{replica_base(register)}__vote_d{domain}"]["connections"]["Y"]


def _rewire(cells: dict[str, Any], old: list, new: list, skip: set[str]) -> None:
    """Every cell but `skip` reading a bit of `old` reads the same bit of `new` instead."""
    swap = dict(zip(old, new, strict=True))
    for name, cell in cells.items():
        if name in skip:
            continue
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if directions.get(port) != "output":
                cell["connections"][port] = [swap.get(b, b) for b in bits]


def shared_next_state(design: Design, top: str, register: str, other: str) -> Design:
    """Copy 1 of the register reads domain 0's next value (a net shared by two domains)."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    base = replica_base(register)
    cells[f"{base}__tmr1_ff"]["connections"]["D"] = list(cells[f"{base}__tmr0_ff"]["connections"]["D"])
    return out


def domain_reads_other_voter(design: Design, top: str, register: str, other: str) -> Design:
    """Domain 2's logic reads domain 1's voter of the register instead of its own."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    _rewire(cells, _voted(cells, register, 2), _voted(cells, register, 1), set())
    return out


def missing_domain_voter(design: Design, top: str, register: str, other: str) -> Design:
    """Domain 1 has no voter of the register: its logic reads copy 1 directly."""
    out = copy.deepcopy(design)
    cells = _cells(out, top)
    base = replica_base(register)
    voted = _voted(cells, register, 1)
    for name in [n for n in cells if n.startswith(f"{base}__vote_d1")]:
        del cells[name]
    _rewire(cells, voted, _replica_q(cells, register, 1), set())
    return out


#: mutants of full module triplication (the `full` policy); each as `MUTANTS`
DOMAIN_MUTANTS: dict[str, Callable[[Design, str, str, str], Design]] = {
    "a net shared by two domains": shared_next_state,
    "a domain reads another domain's voter": domain_reads_other_voter,
    "a domain voter missing": missing_domain_voter,
}

#: name -> mutant; each is called as mutant(design, top, register, other register)
MUTANTS: dict[str, Callable[[Design, str, str, str], Design]] = {
    "missing voter": missing_voter,
    "replica wired to the wrong voter": replica_to_wrong_voter,
    "voter not a majority": minority_voter,
    "register left single": left_single,
    "comparators reach an output pin": error_to_output,
}
