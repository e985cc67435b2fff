"""Proof that a TMR-hardened netlist is its plain netlist with every protected register
triplicated, and that each triplet masks any single upset: in time linear in the netlist.

The pass is local, so the proof is local too (docs/tmr.md, "Proof"):

1. **Translation validation** (`validate`), on the two yosys netlists the pass read and
   wrote, with no trust in the pass's code: every cell of the plain netlist is in the
   hardened one, cell for cell and wire for wire (hashed signatures: type, parameters and
   every connection); each register the policy protects is there as exactly three copies
   of its own cell (same type, parameters and inputs, fresh outputs) whose outputs meet
   only in a cone computing the bitwise majority onto the register's own wire (evaluated
   on all eight input cases, every bit position) and in the error logic; the error logic
   reads nothing but replicas and drives nothing but the error hook (or the added error
   port); each class flag is an OR of comparisons (XOR) of two replicas of the same bit,
   covering every bit of every register of that class with two different pairs (so any
   one wrong copy raises it) and nothing of another class; and no combinational path
   runs from the comparators to an output port. Collapsing each triplet and its voter
   back to one flip-flop and the error logic back to the hook then gives the plain
   netlist exactly.
2. **Register-kind lemmas** (`prove_kinds`), by SAT-based induction (yosys `sat
   -tempinduct`): for each kind of flip-flop cell the design uses (cell type and
   parameters, per policy), one register with voted feedback, triplicated by the pass,
   against one plain register: with any one copy upset at any clock (any bits of one copy
   per clock, any copy the next clock), the voted value equals the plain register's, at
   most one copy is wrong, and the register's error bit is high exactly when a copy is
   wrong. With 1., this is the whole-design statement: outputs equal the plain design's
   with or without single upsets, and each upset raises its class flag.

Both methods report problems rather than stopping at the first, so that a broken
transform (`tmr.mutants`) shows what is wrong with it.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmr.commonmode import CommonMode, attribute_int, common_mode
from tmr.equiv import _shared_submodules
from tmr.netlist import Module
from tmr.policy import Policy
from tmr.transform import DOMAINS, Register, cell_kind, harden, registers
from tmr.yosys import YosysError, run_yosys

#: cells whose output bit i depends on input bit i only (when every width is equal)
BITWISE = frozenset({"$and", "$or", "$xor", "$xnor", "$not", "$pos"})
#: cells computing an OR of their input bits (bitwise `$or`, `$pos` of one bit, reductions)
OR_CELLS = frozenset({"$or", "$pos", "$reduce_or", "$reduce_bool", "$logic_or"})
#: at most this many cells in one register's voter
VOTER_LIMIT = 64
#: the flag that any upset raises (the hook's upset output, or the error port the pass adds)
ANY_UPSET = "any upset"
#: problems listed in full; the rest are counted
PROBLEM_LIMIT = 20

Bit = int | str
Port = tuple[str, str, int]  # (cell, port, position)


@dataclass
class Validation:
    """The result of `validate`: what was matched, and every problem found."""

    plain_cells: int = 0
    protected: int = 0
    single: int = 0
    error_cells: int = 0
    flags: dict[str, int] = field(default_factory=dict)  # class -> registers its flag covers
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: full module triplication: registers in three domains, domain copies of plain cells checked
    domain_registers: int = 0
    domain_copies: int = 0
    #: the independent structural check (`tmr.commonmode`)
    common_mode: CommonMode | None = None

    @property
    def proven(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def summary(self) -> str:
        if self.proven:
            domains = (f", {self.domain_registers} of them in three domains ({self.domain_copies:,} cells "
                       "copied into domains 1 and 2, each domain reading only its own voters)"
                       if self.domain_registers else "")
            common = f"; {self.common_mode.line()}" if self.common_mode else ""
            return (f"translation validated: {self.plain_cells:,} cells matched, {self.protected} registers "
                    f"collapsed from three copies and a majority voter{domains}, {self.single} left single, "
                    f"{self.error_cells} error-logic cells, flags " +
                    ", ".join(f"{cls} ({n} registers)" for cls, n in self.flags.items()) + common)
        shown = self.problems[:PROBLEM_LIMIT]
        more = len(self.problems) - len(shown)
        return "NOT validated:\n  " + "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")


# -- netlist index -------------------------------------------------------------------------------


class Index:
    """Drivers and readers of every bit of a flat module."""

    def __init__(self, module: dict[str, Any], outcome: Validation | None = None):
        self.cells: dict[str, Any] = module["cells"]
        self.driver: dict[Bit, Port] = {}
        self.readers: dict[Bit, list[Port]] = defaultdict(list)
        self.port_in: set[Bit] = set()
        self.port_out: dict[Bit, str] = {}
        for name, port in module["ports"].items():
            for bit in port["bits"]:
                if port["direction"] == "input":
                    self.port_in.add(bit)
                else:
                    self.port_out[bit] = name
        for name, cell in self.cells.items():
            directions = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                output = directions.get(port) == "output"
                for position, bit in enumerate(bits):
                    if isinstance(bit, str):
                        continue
                    if not output:
                        self.readers[bit].append((name, port, position))
                    elif bit in self.driver and outcome is not None:
                        outcome.problem(f"bit {bit} has two drivers: {self.driver[bit][0]} and {name}")
                    else:
                        self.driver[bit] = (name, port, position)

    def inputs(self, name: str) -> Iterable[tuple[str, list[Bit]]]:
        cell = self.cells[name]
        directions = cell.get("port_directions", {})
        return ((p, bits) for p, bits in cell["connections"].items() if directions.get(p) != "output")

    def outputs(self, name: str) -> Iterable[tuple[str, list[Bit]]]:
        cell = self.cells[name]
        directions = cell.get("port_directions", {})
        return ((p, bits) for p, bits in cell["connections"].items() if directions.get(p) == "output")


def signature(cell: dict[str, Any], without: str | None = None) -> str:
    """What a cell is and how it is wired, as a hashable key (not its name or attributes)."""
    connections = {p: bits for p, bits in cell["connections"].items() if p != without}
    return json.dumps([cell["type"], cell.get("parameters", {}), connections], sort_keys=True)


def _where(name: str, cell: dict[str, Any]) -> str:
    return f"{name} ({cell['type']}, {cell.get('attributes', {}).get('src', 'no source')})"


def _equal_widths(cell: dict[str, Any]) -> bool:
    return len({len(bits) for bits in cell["connections"].values()}) == 1


# -- 1. translation validation -------------------------------------------------------------------


@dataclass
class _Triplet:
    register: Register
    replicas: tuple[str, str, str]
    voter: frozenset[str]


class _Validator:
    def __init__(self, plain: dict[str, Any], hardened: dict[str, Any], policy: Policy, top: str,
                 outcome: Validation):
        self.plain, self.hard, self.policy, self.top, self.out = plain, hardened, policy, top, outcome
        self.hard_index = Index(hardened, outcome)
        self.claimed: set[str] = set()  # hardened cells accounted for (plain logic, replicas, voters)
        self.triplets: dict[str, _Triplet] = {}  # plain flip-flop cell -> its triplet
        self.replica_of: dict[str, str] = {}  # hardened replica cell -> plain flip-flop cell
        self.failed_replicas: set[str] = set()  # copies of registers that failed to collapse
        #: domain k's name for a plain bit (k = 1, 2; domain 0 is the plain netlist itself), from the
        #: marks the pass leaves, each checked below (a certificate, not trusted)
        self.maps: dict[int, dict[Bit, Bit]] = {k: {} for k in DOMAINS[1:]}
        self.copies: dict[str, tuple[str, int]] = {}  # hardened copy -> (plain cell, domain)
        self.domain_voters: dict[tuple[str, int], str] = {}  # (register, domain) -> voter cell
        self.hook_drives: dict[int, dict[str, list[Bit]]] = {}  # domain -> hook port -> bits
        hooks = [c for c in plain["cells"].values() if policy.hook and c["type"] == policy.hook.cell_type]
        self.hook_plain: dict[str, list[Bit]] = hooks[0]["connections"] if hooks else {}

    # plain cells, single flip-flops ---------------------------------------------------------------

    def match_plain_cells(self, skip: set[str]) -> None:
        pool: dict[str, list[str]] = defaultdict(list)
        for name, cell in self.hard["cells"].items():
            pool[signature(cell)].append(name)
        for name, cell in sorted(self.plain["cells"].items()):
            if name in skip:
                continue
            found = pool.get(signature(cell))
            if not found:
                self.out.problem(f"plain cell {_where(name, cell)} is not in the hardened netlist with the "
                                 "same type, parameters and connections")
                continue
            self.claimed.add(found.pop())
            self.out.plain_cells += 1

    # protected flip-flops ---------------------------------------------------------------------------

    def collapse(self, protected: Sequence[Register]) -> None:
        ff_pool: dict[str, list[str]] = defaultdict(list)
        for name, cell in self.hard["cells"].items():
            if name not in self.claimed and name not in self.copies and cell_kind(cell["type"]) == "ff":
                ff_pool[signature(cell, without="Q")].append(name)
        for reg in protected:
            cell = self.plain["cells"][reg.cell]
            if reg.policy == "full":
                per_domain = [set(ff_pool.get(signature(self.mapped(cell, k), without="Q"), ()))
                              for k in DOMAINS]
                self.collapse_one(reg, cell["connections"]["Q"], set().union(*per_domain))
                if reg.cell in self.triplets:
                    self.check_domains(reg, per_domain)
                continue
            candidates = set(ff_pool.get(signature(cell, without="Q"), ()))
            self.collapse_one(reg, cell["connections"]["Q"], candidates)

    # full module triplication -----------------------------------------------------------------------

    def mapped(self, cell: dict[str, Any], domain: int) -> dict[str, Any]:
        """The plain cell as domain `domain` must hold it: every input read through the domain's map."""
        if domain == 0:
            return cell
        remap = self.maps[domain]
        directions = cell.get("port_directions", {})
        connections = {p: bits if directions.get(p) == "output" else [remap.get(b, b) for b in bits]
                       for p, bits in cell["connections"].items()}
        return {**cell, "connections": connections}

    def read_certificate(self, protected: Sequence[Register]) -> None:
        """Domain k's name for every plain bit it copied, from the marks the pass leaves: copies of
        plain cells (`tmr_copy_of`), domain voters (`tmr_voter_of`), the domain's buffers of shared
        bits (`tmr_fanout`) and its drivers of the error hook's outputs (`tmr_hook_port`). Each is
        checked: a copy has its plain cell's type and parameters (its inputs once every map is
        known, `check_copies`), a voter is a majority of the register's three copies."""
        by_name = {r.name: r for r in protected}
        for name, cell in sorted(self.hard["cells"].items()):
            attributes = cell.get("attributes", {})
            domain = attribute_int(attributes.get("tmr_domain"))
            if domain is None:
                continue
            if domain not in DOMAINS:
                self.out.problem(f"cell {_where(name, cell)}: domain {domain} is not one of 0, 1, 2")
                continue
            original = attributes.get("tmr_copy_of")
            voter_of = attributes.get("tmr_voter_of")
            if original is not None:
                self.map_copy(name, cell, str(original), domain)
            elif voter_of is not None and str(voter_of) in by_name:
                self.domain_voters[(str(voter_of), domain)] = name
                if domain:
                    plain_q = self.plain["cells"][by_name[str(voter_of)].cell]["connections"]["Q"]
                    self.maps[domain].update(zip(plain_q, cell["connections"]["Y"], strict=False))
            elif attributes.get("tmr_fanout") is not None and domain:
                buffered = zip(cell["connections"]["A"], cell["connections"]["Y"], strict=False)
                self.maps[domain].update(buffered)
                self.claimed.add(name)
            elif attributes.get("tmr_hook_port") is not None:
                port = str(attributes["tmr_hook_port"])
                self.hook_drives.setdefault(domain, {})[port] = cell["connections"]["Y"]
                if domain and port in self.hook_plain:
                    driven = zip(self.hook_plain[port], cell["connections"]["Y"], strict=False)
                    self.maps[domain].update(driven)

    def map_copy(self, name: str, cell: dict[str, Any], original: str, domain: int) -> None:
        plain = self.plain["cells"].get(original)
        if plain is None or domain == 0:
            self.out.problem(f"cell {_where(name, cell)}: a domain-{domain} copy of {original}, which is "
                             "not a "
                             "plain cell copied into domains 1 and 2")
            return
        if plain["type"] != cell["type"] or plain.get("parameters") != cell.get("parameters"):
            self.out.problem(f"cell {_where(name, cell)}: not a copy of {original} (type or parameters "
                             "differ)")
            return
        if any(c == (original, domain) for c in self.copies.values()):
            self.out.problem(f"cell {_where(name, cell)}: a second domain-{domain} copy of {original}")
            return
        directions = plain.get("port_directions", {})
        for port, bits in plain["connections"].items():
            if directions.get(port) == "output":
                self.maps[domain].update(zip(bits, cell["connections"].get(port, []), strict=False))
        self.copies[name] = (original, domain)

    def check_copies(self) -> None:
        """Every domain copy reads exactly its plain cell's inputs as its domain names them."""
        for name, (original, domain) in sorted(self.copies.items()):
            want = self.mapped(self.plain["cells"][original], domain)["connections"]
            got = self.hard["cells"][name]["connections"]
            directions = self.plain["cells"][original].get("port_directions", {})
            wrong = [p for p, bits in want.items() if directions.get(p) != "output" and got.get(p) != bits]
            if wrong:
                self.out.problem(f"domain-{domain} copy {name} of {original}: port {wrong[0]} does not read "
                                 f"what domain {domain} computes "
                                 f"({self.describe(got[wrong[0]], want[wrong[0]])})")
                continue
            self.claimed.add(name)
            self.out.domain_copies += 1

    def describe(self, got: list[Bit], want: list[Bit]) -> str:
        """What a wrongly wired input reads instead, naming the register behind it if any."""
        bit = next((g for g, w in zip(got, want, strict=False) if g != w), None)
        driver = self.hard_index.driver.get(bit) if bit is not None else None
        if driver is None:
            return "a net of another domain or of the plain logic"
        name = driver[0]
        if name in self.replica_of:
            owner = self.triplets[self.replica_of[name]].register.name
            return f"copy {name} of register {owner}, past its voters"
        for triplet in self.triplets.values():
            if name in triplet.voter:
                return f"a voter of register {triplet.register.name} ({name}) that is not this domain's"
        return f"{name}, a net of another domain or of the plain logic"

    def check_domains(self, reg: Register, per_domain: list[set[str]]) -> None:
        """Copy k of a `full` register reads domain k's next value, and domain k's voter (1, 2) is a
        majority of the same three copies; domain 0's voter is the one `collapse_one` checked."""
        where = f"register {reg.name} (full, {reg.width} bits)"
        triplet = self.triplets[reg.cell]
        owners = [[k for k in DOMAINS if r in per_domain[k]] for r in triplet.replicas]
        first = sorted(k for found in owners for k in found[:1])
        if first != list(DOMAINS) or any(len(f) != 1 for f in owners):
            self.out.problem(f"{where}: its copies do not read one domain each "
                             f"({', '.join(triplet.replicas)} "
                             f"read domains {owners})")
            return
        plain_q = self.plain["cells"][reg.cell]["connections"]["Q"]
        for k in DOMAINS[1:]:
            voter = self.domain_voters.get((reg.name, k))
            voted = [self.maps[k].get(b) for b in plain_q]
            if voter is None and all(v is None for v in voted):
                continue  # nothing of domain k reads the register (else the common-mode check fails)
            if voter is None or any(v is None for v in voted):
                self.out.problem(f"{where}: no voter of domain {k}")
                return
            cone = self.voter_cone(voted, f"{where} domain {k}")
            if cone is None:
                return
            cells, leaves = cone
            replicas = sorted({self.hard_index.driver[b][0] for b in leaves if b in self.hard_index.driver})
            if replicas != sorted(triplet.replicas):
                self.out.problem(f"{where}: the voter of domain {k} reads {', '.join(replicas)}, not the "
                                 "register's three copies")
                return
            if not self.majority(cells, replicas, voted, f"{where} domain {k}"):
                return
            self.claimed.update(cells)
            triplet.voter = triplet.voter | cells
        self.out.domain_registers += 1

    def collapse_one(self, reg: Register, q_bits: list[Bit], candidates: set[str]) -> None:
        where = f"register {reg.name} ({reg.policy}, {reg.width} bits)"
        voter = self.voter_cone(q_bits, where)
        if voter is None:
            return
        cells, leaves = voter
        if not cells:
            self.out.problem(f"{where}: left single (a flip-flop drives its wire: no copies, no voter), "
                             "although the policy protects it")
            return
        replicas = sorted({self.hard_index.driver[b][0] for b in leaves if b in self.hard_index.driver})
        wrong = [r for r in replicas if r not in candidates or r in self.replica_of]
        if len(replicas) != 3 or wrong:
            detail = (f"reads {', '.join(wrong)}, not an unused copy of its flip-flop" if wrong
                      else f"reads {len(replicas)} copies of its flip-flop, not three")
            self.out.problem(f"{where}: its voter {detail}")
            self.set_aside(cells, [r for r in replicas if r not in wrong])
            return
        if not self.majority(cells, replicas, q_bits, where):
            self.set_aside(cells, replicas)
            return
        for replica in replicas:
            self.replica_of[replica] = reg.cell
        self.claimed.update(cells)
        self.claimed.update(replicas)
        self.triplets[reg.cell] = _Triplet(reg, (replicas[0], replicas[1], replicas[2]), frozenset(cells))
        self.out.protected += 1

    def set_aside(self, cells: Iterable[str], replicas: Iterable[str]) -> None:
        """A register that failed: its cells are not reported again as stray logic."""
        self.claimed.update(cells)
        self.claimed.update(replicas)
        self.failed_replicas.update(replicas)

    def voter_cone(self, q_bits: list[Bit], where: str) -> tuple[set[str], set[Bit]] | None:
        """The bitwise cells driving the register's wire, back to the flip-flops they read."""
        index, cells, leaves = self.hard_index, set(), set()
        pending = list(q_bits)
        seen: set[Bit] = set()
        while pending:
            bit = pending.pop()
            if isinstance(bit, str) or bit in seen:
                continue
            seen.add(bit)
            driver = index.driver.get(bit)
            if driver is None:
                self.out.problem(f"{where}: bit {bit} of its wire has no driver (no voter)")
                return None
            name = driver[0]
            if name in cells:
                continue  # a word-level cell: expanded at its first bit
            cell = index.cells[name]
            if cell_kind(cell["type"]) == "ff":
                leaves.add(bit)
                continue
            aligned = _equal_widths(cell) and len(cell["connections"]["Y"]) == len(q_bits)
            if cell["type"] not in BITWISE or not aligned:
                self.out.problem(f"{where}: its wire is driven through {_where(name, cell)}, not a bitwise "
                                 f"voter of {len(q_bits)} bits")
                return None
            if name in self.claimed:
                self.out.problem(f"{where}: its voter cell {name} also belongs to another register or the "
                                 "plain logic")
                return None
            cells.add(name)
            if len(cells) > VOTER_LIMIT:
                self.out.problem(f"{where}: more than {VOTER_LIMIT} cells between its copies and its wire")
                return None
            for _, bits in index.inputs(name):
                pending.extend(bits)
        return cells, leaves

    def majority(self, cells: set[str], replicas: list[str], q_bits: list[Bit], where: str) -> bool:
        """Every bit of the wire is the majority of the same bit of the three copies, in all 8 cases."""
        for case in range(8):
            evaluator = _VoterEval(self.hard_index, replicas, [case >> k & 1 for k in range(3)], len(q_bits))
            try:
                got = [evaluator.bit(b, i) for i, b in enumerate(q_bits)]
            except _Misaligned as exc:
                self.out.problem(f"{where}: voter cell {exc} mixes bit positions of the copies")
                return False
            want = 1 if bin(case).count("1") >= 2 else 0
            if any(v != want for v in got):
                wrong = next(i for i, v in enumerate(got) if v != want)
                self.out.problem(f"{where}: its voter is not a majority: copies "
                                 f"{case & 1}{case >> 1 & 1}{case >> 2 & 1} give {got[wrong]} at bit {wrong}")
                return False
        return True

    # error logic ------------------------------------------------------------------------------------

    def check_error_logic(self, hook_bits: dict[str, list[Bit]], added_port: str | None) -> None:
        index = self.hard_index
        error = {n for n in index.cells if n not in self.claimed}
        self.out.error_cells = len(error)
        replica_bits = {b for r in [*self.replica_of, *self.failed_replicas]
                        for b in index.cells[r]["connections"]["Q"]}
        error_out = {b for n in error for _, bits in index.outputs(n) for b in bits}
        allowed_out = {b for bits in hook_bits.values() for b in bits}
        if added_port:
            allowed_out.update(self.hard["ports"].get(added_port, {}).get("bits", []))
        for name in sorted(error):
            cell = index.cells[name]
            if cell_kind(cell["type"]) != "comb":
                self.out.problem(f"hardened cell {_where(name, cell)} is neither plain logic, a copy, a "
                                 "voter nor combinational error logic")
                continue
            for port, bits in index.inputs(name):
                stray = [b for b in bits
                         if not isinstance(b, str) and b not in replica_bits and b not in error_out]
                if stray:
                    self.out.problem(f"error-logic cell {_where(name, cell)} port {port} reads a net of the "
                                     f"design (bit {stray[0]}), not only copies")
        for bit in sorted(b for b in error_out if not isinstance(b, str)):
            outside = [r for r in index.readers.get(bit, []) if r[0] not in error]
            if (outside or bit in index.port_out) and bit not in allowed_out:
                reader = outside[0][0] if outside else f"output port {index.port_out[bit]}"
                self.out.problem(f"error logic drives {reader} (bit {bit}), not only the error hook")
        for replica in sorted(self.replica_of):
            for bit in index.cells[replica]["connections"]["Q"]:
                for reader, _, _ in index.readers.get(bit, []):
                    voter = self.triplets[self.replica_of[replica]].voter
                    if reader not in error and reader not in voter:
                        self.out.problem(f"copy {replica} is read by {reader}, past its voter")
                        break

    def check_flags(self, flag_bits: dict[str, Bit], classes_of: dict[str, str], domain: str = "") -> None:
        """Each flag is an OR of XORs of two copies of one bit, covering exactly its registers."""
        for flag_name, bit in flag_bits.items():
            flag = flag_name + domain
            coverage: dict[str, dict[int, set[tuple[int, int]]]] = defaultdict(lambda: defaultdict(set))
            for leaf in self.or_leaves(bit, flag):
                pair = self.replica_pair(leaf)
                if pair is None:
                    name = self.hard_index.driver[leaf][0] if leaf in self.hard_index.driver else leaf
                    self.out.problem(f"flag {flag}: term {name} is not a comparison of two copies of one bit")
                    continue
                register, position, copies = pair
                coverage[register][position].add(copies)
            wanted = {cell for cell, cls in classes_of.items() if flag_name == ANY_UPSET or cls == flag_name}
            for cell in sorted(set(coverage) - wanted):
                self.out.problem(f"flag {flag} rises for {self.triplets[cell].register.name} "
                                 f"(class {classes_of[cell]})")
            for cell in sorted(wanted):
                width = self.triplets[cell].register.width
                weak = [i for i in range(width) if len(coverage.get(cell, {}).get(i, ())) < 2]
                if weak:
                    self.out.problem(f"flag {flag} misses an upset of {self.triplets[cell].register.name} "
                                     f"bit {weak[0]} ({len(weak)} bits compare fewer than two pairs of "
                                     "copies)")
            self.out.flags[flag] = len(wanted & set(coverage))

    def or_leaves(self, bit: Bit, flag: str) -> set[Bit]:
        index, leaves, seen = self.hard_index, set(), set()
        pending = [bit]
        while pending:
            b = pending.pop()
            if b in seen:
                continue
            seen.add(b)
            if isinstance(b, str):
                if b != "0":
                    self.out.problem(f"flag {flag} has a constant {b} term")
                continue
            name, _, position = index.driver.get(b, (None, None, 0))
            cell = index.cells.get(name) if name else None
            if cell is None or cell["type"] not in OR_CELLS:
                leaves.add(b)
                continue
            if cell["type"] in ("$or", "$pos"):
                if not _equal_widths(cell):
                    self.out.problem(f"flag {flag}: {_where(name, cell)} extends its inputs")
                    continue
                pending.extend(bits[position] for _, bits in index.inputs(name))
            else:
                pending.extend(b2 for _, bits in index.inputs(name) for b2 in bits)
        return leaves

    def replica_pair(self, bit: Bit) -> tuple[str, int, tuple[int, int]] | None:
        """(register cell, bit position, the two copies) if `bit` is an XOR of two copies of one bit."""
        name, _, position = self.hard_index.driver.get(bit, (None, None, 0))
        if name is None:
            return None
        cell = self.hard_index.cells[name]
        if cell["type"] != "$xor" or not _equal_widths(cell):
            return None
        found = []
        for port in ("A", "B"):
            source = self.hard_index.driver.get(cell["connections"][port][position])
            if source is None or source[0] not in self.replica_of or source[2] != position:
                return None
            found.append(source[0])
        owners = {self.replica_of[r] for r in found}
        if len(owners) != 1 or found[0] == found[1]:
            return None
        owner = owners.pop()
        replicas = self.triplets[owner].replicas
        first, second = sorted(replicas.index(r) for r in found)
        return owner, position, (first, second)

    def check_no_path_to_outputs(self, start: Iterable[Bit], exempt: str | None) -> None:
        """No combinational path from the error logic to an output port (SPEC section 11)."""
        index = self.hard_index
        pending, seen = list(start), set()
        while pending:
            bit = pending.pop()
            if bit in seen:
                continue
            seen.add(bit)
            port = index.port_out.get(bit)
            if port is not None and port != exempt:
                self.out.problem("a combinational path runs from the voters' comparators to output port "
                                 f"{port}")
                return
            for reader, _, _ in index.readers.get(bit, []):
                if cell_kind(index.cells[reader]["type"]) != "ff":
                    pending.extend(b for _, bits in index.outputs(reader) for b in bits)


class _Misaligned(Exception):
    pass


class _VoterEval:
    """A voter's value with every copy holding all zeros or all ones (`levels`). A copy's bit i may
    feed bit i of the voter only: anything else is refused as misaligned."""

    def __init__(self, index: Index, replicas: Sequence[str], levels: Sequence[int], width: int):
        self.index = index
        self.ones = (1 << width) - 1
        self.position = {bit: (levels[k], i) for k, r in enumerate(replicas)
                         for i, bit in enumerate(index.cells[r]["connections"]["Q"])}
        self.words: dict[str, int] = {}

    def bit(self, bit: Bit, at: int) -> int | None:
        if isinstance(bit, str):
            return 1 if bit == "1" else 0 if bit == "0" else None
        if bit in self.position:
            level, i = self.position[bit]
            return level if i == at else None
        name, _, position = self.index.driver[bit]
        return self.word(name) >> position & 1 if position == at else None

    def word(self, name: str) -> int:
        if name not in self.words:
            ports = {}
            for port, bits in self.index.inputs(name):
                got = [self.bit(b, i) for i, b in enumerate(bits)]
                if any(v is None for v in got):
                    raise _Misaligned(name)
                ports[port] = sum(v << i for i, v in enumerate(got) if v)
            self.words[name] = _bitwise(self.index.cells[name]["type"], ports, self.ones)
        return self.words[name]


def _bitwise(cell_type: str, ports: dict[str, int], ones: int) -> int:
    a, b = ports.get("A", 0), ports.get("B", 0)
    return {"$and": a & b, "$or": a | b, "$xor": a ^ b, "$xnor": ~(a ^ b) & ones, "$not": ~a & ones,
            "$pos": a}[cell_type]


def validate(plain_json: Path, hardened_json: Path, policy: Policy, top: str) -> Validation:
    """Translation validation of one run of the TMR pass (module docstring, method 1)."""
    t0 = time.perf_counter()
    outcome = Validation()
    gold = json.loads(Path(plain_json).read_text())["modules"]
    gate = json.loads(Path(hardened_json).read_text())["modules"]
    if policy.hook:  # a black box in the plain netlist; the pass replaces its one instance
        gold = {name: module for name, module in gold.items() if name != policy.hook.cell_type}
    try:
        _shared_submodules(gold, gate, top)
    except YosysError as exc:
        outcome.problem(str(exc))
        return outcome
    plain, hardened = gold[top], gate[top]
    checker = _Validator(plain, hardened, policy, top, outcome)
    regs = registers(Module(top, plain), policy)
    hooks = [n for n, c in plain["cells"].items() if policy.hook and c["type"] == policy.hook.cell_type]
    _check_ports(plain, hardened, policy, bool(hooks), outcome)
    protected = [r for r in regs if r.policy != "none"]
    domains = any(r.policy == "full" for r in protected)
    checker.match_plain_cells({r.cell for r in protected} | set(hooks))
    outcome.single = len(regs) - len(protected)
    if domains:
        checker.read_certificate(protected)
    checker.collapse(protected)
    if domains:
        checker.check_copies()
    if len(hooks) > 1:
        outcome.problem(f"{len(hooks)} error hooks ({', '.join(hooks)}); expected at most one")
    hook_bits = {p: plain["cells"][hooks[0]]["connections"][p] for p in
                 (policy.hook.flags_port, policy.hook.upset_port)} if hooks and policy.hook else {}
    # the error logic of domain k drives domain k's copy of the hook's outputs
    domain_hooks = {0: hook_bits}
    if hook_bits and checker.hook_drives:
        for k in DOMAINS[1:]:
            domain_hooks[k] = {p: [checker.maps[k].get(b, b) for b in bits] for p, bits in hook_bits.items()}
            if checker.hook_drives.get(k) != domain_hooks[k]:
                outcome.problem(f"the error logic of domain {k} does not drive domain {k}'s copy of the hook "
                                "outputs")
    added = None if hooks else policy.error_port
    all_hook_bits = {f"{p}@{k}": bits for k, ports in domain_hooks.items() for p, bits in ports.items()}
    checker.check_error_logic(all_hook_bits, added)
    classes_of = {t.register.cell: t.register.error_class for t in checker.triplets.values()}
    for k, ports in domain_hooks.items():
        flag_bits: dict[str, Bit] = {}
        if ports and policy.hook:
            flags = ports[policy.hook.flags_port]
            if len(flags) != len(policy.classes):
                outcome.problem(f"hook {hooks[0]}: {len(flags)} flag bits for {len(policy.classes)} classes")
            flag_bits = {cls: bit for cls, bit in zip(policy.classes, flags, strict=False)}
            flag_bits[ANY_UPSET] = ports[policy.hook.upset_port][0]
        elif added in hardened["ports"]:
            flag_bits[ANY_UPSET] = hardened["ports"][added]["bits"][0]
        if len(checker.triplets) == outcome.protected and not outcome.problems:
            checker.check_flags(flag_bits, classes_of, "" if k == 0 else f" (domain {k})")
    checker.check_no_path_to_outputs([b for bits in all_hook_bits.values() for b in bits] or
                                     ([hardened["ports"][added]["bits"][0]] if added in hardened["ports"]
                                      else []),
                                     added)
    if any(r.policy in ("full", "full-shared") for r in protected):
        found = common_mode(hardened)
        outcome.common_mode = found
        full = {r.name for r in protected if r.policy == "full"}
        for name in sorted(set(found.exposed) & full)[:PROBLEM_LIMIT]:
            outcome.problem(f"register {name} (full): {found.exposed[name]} nets in the next-state logic of "
                            "two of its copies (common-mode: one transient there reaches two copies)")
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _check_ports(plain: dict[str, Any], hardened: dict[str, Any], policy: Policy, hook: bool,
                 outcome: Validation) -> None:
    want = dict(plain["ports"])
    if not hook:
        extra = hardened["ports"].get(policy.error_port)
        if extra is None or extra.get("direction") != "output" or len(extra["bits"]) != 1:
            outcome.problem(f"no one-bit output port {policy.error_port!r} for the error flag")
        else:
            want[policy.error_port] = extra
    if want != hardened["ports"]:
        changed = sorted(set(want) ^ set(hardened["ports"]) |
                         {p for p in set(want) & set(hardened["ports"]) if want[p] != hardened["ports"][p]})
        outcome.problem(f"ports differ from the plain netlist's: {', '.join(changed)}")


# -- 2. register-kind lemmas -----------------------------------------------------------------------

#: width of the register in a kind's lemma; flip-flop cells and voters are bitwise, so two bits
#: show that the bits do not interfere
KIND_WIDTH = 2
_VALUE_PARAMS = ("ARST_VALUE", "SRST_VALUE")


#: flip-flop ports with one bit per register bit; the others (clock, resets, enables) have one
WIDE_PORTS = frozenset({"D", "CLR", "SET", "AD"})


@dataclass(frozen=True)
class Kind:
    """A kind of protected register: flip-flop cell type and parameters, and policy."""

    policy: str
    cell_type: str
    parameters: tuple[tuple[str, str], ...]  # without WIDTH and the reset values
    ports: tuple[str, ...]  # input ports of the flip-flop cell
    values: tuple[str, ...]  # reset-value parameters it has

    def label(self) -> str:
        params = ", ".join(f"{k}={int(v, 2) if re.fullmatch('[01]+', v) else v}" for k, v in self.parameters)
        return f"{self.policy} {self.cell_type}" + (f" ({params})" if params else "")


@dataclass(frozen=True)
class KindProof:
    kind: Kind
    registers: int
    proven: bool
    detail: str


def kinds_of(plain: dict[str, Any], regs: Sequence[Register]) -> dict[Kind, int]:
    """The kinds of the protected registers, with how many registers each has."""
    found: dict[Kind, int] = defaultdict(int)
    for reg in regs:
        if reg.policy == "none":
            continue
        cell = plain["cells"][reg.cell]
        parameters = cell.get("parameters", {})
        params = tuple(sorted((k, str(v)) for k, v in parameters.items()
                              if k != "WIDTH" and k not in _VALUE_PARAMS))
        ports = tuple(sorted(p for p in cell["connections"] if p != "Q"))
        values = tuple(sorted(k for k in parameters if k in _VALUE_PARAMS))
        found[Kind(reg.policy, cell["type"], params, ports, values)] += 1
    return dict(found)


def _binary(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def _lemma_port(port: str) -> str:
    return "X" if port == "D" else port  # the register's D is its feedback; X is the free input


def kind_netlists(kind: Kind, voter_kind: str = "majority", scheme: str | None = None) -> dict[str, Any]:
    """The lemma's two modules as a yosys JSON design: `kind_plain`, one register whose next
    value is its own value XOR a free input X (voted feedback, with every next value reachable),
    and `kind_tmr`, the same after the TMR pass (`tmr.transform.harden`, policy `scheme`, by
    default the kind's), with two fault inputs per copy k: F<k>, XORed into copy k's next value
    (an upset of the copy, or a transient anywhere in the logic that only copy k reads), and
    G<k>, XORed into the voted value where the next-state logic reads it (a transient on a voter's
    output: with full module triplication, domain k's voter; with one shared voter, that voter,
    G0). Outputs: the copies, the voters' outputs and the error bit. `voter_kind`: "majority",
    or a broken voter ("and", "copy0") to show the lemma then fails."""
    w = KIND_WIDTH
    bits = iter(range(2, 1000))
    ports: dict[str, Any] = {}
    connections: dict[str, list[Bit]] = {}
    for port in kind.ports:
        connections[port] = [next(bits) for _ in range(w if port in WIDE_PORTS else 1)]
        ports[_lemma_port(port)] = {"direction": "input", "bits": connections[port]}
    q, d = [next(bits) for _ in range(w)], [next(bits) for _ in range(w)]
    ports["Q"] = {"direction": "output", "bits": q}
    x = connections["D"]
    connections["D"], connections["Q"] = d, q
    params = dict(kind.parameters)
    params["WIDTH"] = _binary(w, 32)
    params.update({name: _binary(0b10, w) for name in kind.values})
    directions = {p: "input" for p in connections}
    directions["Q"] = "output"
    cell = {"hide_name": 0, "type": kind.cell_type, "parameters": params, "attributes": {},
            "port_directions": directions, "connections": connections}
    feedback = {"hide_name": 0, "type": "$xor", "attributes": {},
                "parameters": {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": w, "B_WIDTH": w, "Y_WIDTH": w},
                "port_directions": {"A": "input", "B": "input", "Y": "output"},
                "connections": {"A": q, "B": x, "Y": d}}
    plain = {"attributes": {}, "ports": ports, "cells": {"r_reg": cell, "next": feedback},
             "netnames": {"r": {"hide_name": 0, "bits": q, "attributes": {}}}}
    hardened = copy.deepcopy(plain)
    module = Module("kind_tmr", hardened)
    scheme = scheme or kind.policy
    harden(module, Policy.from_raw({"default": scheme, "classes": ["k"], "error_port": "ERR"}, "lemma"))
    domains = scheme == "full"
    for k in range(3):
        fault = module.new_bits(w)
        hardened["ports"][f"F{k}"] = {"direction": "input", "bits": fault}
        replica = hardened["cells"][f"r__tmr{k}_ff"]
        replica["connections"]["D"] = module.binary("$xor", f"upset{k}", replica["connections"]["D"], fault,
                                                    w)
        hardened["ports"][f"R{k}"] = {"direction": "output", "bits": replica["connections"]["Q"]}
        # a transient on the voter's output as the next-state logic reads it: domain k's voter
        # and logic, or the one voter and the logic every copy shares
        transient = module.new_bits(w)
        hardened["ports"][f"G{k}"] = {"direction": "input", "bits": transient}
        logic = "next" if k == 0 else f"next__d{k}"
        voter = hardened["cells"].get(f"r__vote_d{k}" if domains else ("r__vote" if k == 0 else ""))
        if voter is not None:
            hardened["ports"][f"V{k}"] = {"direction": "output", "bits": voter["connections"]["Y"]}
        if logic in hardened["cells"]:
            reader = hardened["cells"][logic]
            reader["connections"]["A"] = module.binary("$xor", f"transient{k}", reader["connections"]["A"],
                                                       transient, w)
    for k in (1, 2):
        hardened["ports"].setdefault(f"V{k}", hardened["ports"]["V0"])
    hardened["ports"]["Q"] = hardened["ports"]["V0"]
    del hardened["ports"]["V0"]
    _break_voter(hardened, voter_kind, "r__vote_d0" if domains else "r__vote")
    return {"creator": "asicgen tmr.proof", "modules": {"kind_plain": plain, "kind_tmr": hardened}}


def _break_voter(module: dict[str, Any], voter: str, cell_name: str) -> None:
    if voter == "majority":
        return
    cell = module["cells"][cell_name]
    if voter == "and":  # (a&b | a&c) & b&c: all three must agree
        cell["type"] = "$and"
    elif voter == "copy0":  # no voter: the first copy drives the register's wire
        cell["type"], cell["connections"]["A"] = "$pos", module["ports"]["R0"]["bits"]
        del cell["connections"]["B"]
        cell["parameters"] = {"A_SIGNED": 0, "A_WIDTH": KIND_WIDTH, "Y_WIDTH": KIND_WIDTH}
        cell["port_directions"] = {"A": "input", "Y": "output"}
    else:
        raise ValueError(f"unknown voter {voter!r}")


def _harness(kind: Kind, transients: bool) -> str:
    """The lemma: with at most one fault per clock (one copy's next value, or, with `transients`,
    one voter output as the logic reads it; any bits), every voter's output equals the plain
    register, at most one copy is wrong, and the error bit is high exactly when one is."""
    w = KIND_WIDTH
    inputs = [(_lemma_port(p), w if p in WIDE_PORTS else 1) for p in kind.ports]
    decl = ", ".join(f"input [{n - 1}:0] {p}" for p, n in inputs)
    conn = ", ".join(f".{p}({p})" for p, _ in inputs)
    faults = ["F0", "F1", "F2", "G0", "G1", "G2"]
    one_fault = " || ".join("(" + " && ".join(f"{g} == 0" for g in faults if g != f) + ")" for f in faults)
    no_transient = "" if transients else "    assume(G0 == 0 && G1 == 0 && G2 == 0);\n"
    return f"""module kind_proof({decl}, input [{w - 1}:0] F0, F1, F2, G0, G1, G2);
  wire [{w - 1}:0] gold, voted, v1, v2, r0, r1, r2;
  wire err;
  kind_plain u_plain({conn}, .Q(gold));
  kind_tmr u_tmr({conn}, .F0(F0), .F1(F1), .F2(F2), .G0(G0), .G1(G1), .G2(G2), .Q(voted), .V1(v1), .V2(v2),
                 .R0(r0), .R1(r1), .R2(r2), .ERR(err));
  always @* begin
    // one fault per clock at most (any of its bits)
    assume({one_fault});
{no_transient}    assert(voted == gold && v1 == gold && v2 == gold);
    assert((r0 == gold && r1 == gold) || (r0 == gold && r2 == gold) || (r1 == gold && r2 == gold));
    assert(err == (r0 != gold || r1 != gold || r2 != gold));
  end
endmodule
"""


def prove_kind(kind: Kind, workdir: Path, voter: str = "majority", scheme: str | None = None,
               transients: bool | None = None) -> tuple[bool, str]:
    """The lemma for one kind by SAT-based induction; (proven, the line of the log that says so).
    Transients on the voters' outputs are among the faults for `full` registers (full module
    triplication); `scheme` and `transients` override the kind's policy and that choice (to show
    that the shared-voter scheme fails with transients)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    chosen = scheme or kind.policy
    with_transients = chosen == "full" if transients is None else transients
    (workdir / "kind.json").write_text(json.dumps(kind_netlists(kind, voter, chosen)))
    (workdir / "harness.sv").write_text(_harness(kind, with_transients))
    script = "\n".join(["read_json kind.json", "read_verilog -formal harness.sv", "hierarchy -top kind_proof",
                        "proc", "flatten", "async2sync", "opt_clean",
                        "sat -tempinduct -prove-asserts -set-assumes -set-init-zero -maxsteps 4"]) + "\n"
    log = run_yosys(script, workdir, "lemma.log")
    if "Induction step proven: SUCCESS!" in log:
        return True, "induction step proven"
    failed = re.findall(r"SAT temporal induction proof finished - (.*)", log)
    return False, failed[-1].strip() if failed else "no induction result in the log"


def prove_kinds(plain_json: Path, policy: Policy, top: str, workdir: Path,
                voter: str = "majority") -> list[KindProof]:
    plain = json.loads(Path(plain_json).read_text())["modules"][top]
    regs = registers(Module(top, plain), policy)
    proofs = []
    for i, (kind, count) in enumerate(sorted(kinds_of(plain, regs).items(), key=lambda kv: kv[0].label())):
        proven, detail = prove_kind(kind, Path(workdir) / f"kind{i}", voter)
        proofs.append(KindProof(kind, count, proven, detail))
    return proofs


# -- both -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """Translation validation of one run of the pass and the lemma of every register kind in it."""

    validation: Validation
    kinds: tuple[KindProof, ...]
    seconds: float

    @property
    def proven(self) -> bool:
        return self.validation.proven and all(k.proven for k in self.kinds)

    def line(self) -> str:
        """One line for progress output: what was proven."""
        if not self.proven:
            return "proof FAILED"
        return (f"proven: {self.validation.protected} registers validated against the plain netlist, "
                f"{len(self.kinds)} register kinds by induction")

    def summary(self) -> str:
        unproven = [k.kind.label() for k in self.kinds if not k.proven]
        lemmas = (f"{len(self.kinds)} register kinds proven by induction (single upsets masked and flagged)"
                  if not unproven else f"register kinds NOT proven: {', '.join(unproven)}")
        return f"{self.validation.summary()}; {lemmas} ({self.seconds:.1f} s)"

    def markdown(self) -> str:
        v = self.validation
        lines = ["## Proof (`tmr.proof`)", "",
                 f"* translation validation: **{'proven' if v.proven else 'FAILED'}**: "
                 f"{v.plain_cells:,} cells of the plain netlist matched cell for cell "
                 f"and wire for wire, {v.protected} registers collapsed from three copies and a majority "
                 f"voter to their plain flip-flop, {v.single} left single as the policy says, "
                 f"{v.error_cells} cells of error logic reading copies only and driving the error hook only, "
                 "no combinational path from them to an output port",
                 "* flags (OR of two-copy comparisons covering every bit of every register of the class): "
                 + ", ".join(f"{cls} {n} registers" for cls, n in v.flags.items())]
        if v.domain_registers:
            lines.append(f"* full module triplication: {v.domain_registers} registers in three domains; "
                         f"{v.domain_copies:,} cells of domains 1 and 2 checked to be copies of their plain "
                         "cell "
                         "reading their own domain's nets (collapsing the domains gives the plain netlist); "
                         "each domain's voters are majorities of the register's three copies")
        if v.common_mode is not None:
            lines.append(f"* {v.common_mode.line()}")
        lines += ["", "| register kind | registers | lemma: voted == plain, at most one copy wrong, "
                  "error bit "
                  "== a copy is wrong, with one fault per clock (an upset of a copy; for `full`, also a "
                  "transient on any net of one domain, its voter outputs included) |", "|---|---|---|"]
        lines += [f"| {k.kind.label()} | {k.registers} | {'proven' if k.proven else 'FAILED'}: {k.detail} |"
                  for k in self.kinds]
        if v.problems:
            lines += ["", "Problems:", "", *(f"* {p}" for p in v.problems[:PROBLEM_LIMIT])]
        return "\n".join(lines) + "\n"


def prove(plain_json: Path, hardened_json: Path, policy: Policy, top: str, workdir: Path) -> Proof:
    """Both methods on one run of the pass (module docstring)."""
    t0 = time.perf_counter()
    validation = validate(plain_json, hardened_json, policy, top)
    kinds = prove_kinds(plain_json, policy, top, workdir)
    return Proof(validation, tuple(kinds), time.perf_counter() - t0)
