"""The TMR transformation on a flattened yosys netlist.

Every flip-flop cell the policy protects becomes three copies (`<name>__tmr0..2`,
each carrying `keep` so synthesis cannot merge them) and a majority voter that
drives the original register's net: everything that read the register, its own
next-state logic included, now reads the voted value. Each voter also compares
its copies; the comparisons of one error class are OR-ed into that class's flag.
Constructs the pass cannot protect safely are refused, naming the cell and its
source line.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from asicgen.core.raw import ConfigError
from tmr.netlist import Module
from tmr.policy import Policy

FF_TYPES = {"$dff", "$adff", "$dffe", "$adffe", "$sdff", "$sdffe", "$sdffce", "$dffsr", "$dffsre",
            "$aldff", "$aldffe"}
LATCH_TYPES = {"$dlatch", "$adlatch", "$dlatchsr", "$sr"}
COMB_TYPES = {
    "$not", "$pos", "$neg", "$and", "$or", "$xor", "$xnor", "$reduce_and", "$reduce_or", "$reduce_xor",
    "$reduce_xnor", "$reduce_bool", "$logic_not", "$logic_and", "$logic_or", "$shl", "$shr", "$sshl",
    "$sshr", "$shift", "$shiftx", "$lt", "$le", "$eq", "$ne", "$eqx", "$nex", "$ge", "$gt", "$add", "$sub",
    "$mul", "$div", "$mod", "$divfloor", "$modfloor", "$pow", "$mux", "$pmux", "$bmux", "$demux", "$bweqx",
    "$bwmux", "$concat", "$slice", "$lut", "$sop", "$alu", "$macc", "$lcu", "$fa", "$scopeinfo",
}


class TmrError(ConfigError):
    """The design contains something the TMR pass cannot protect safely."""


@dataclass(frozen=True)
class Register:
    name: str
    cell: str
    width: int
    policy: str
    error_class: str
    source: str


@dataclass
class Report:
    triplicated: list[Register] = field(default_factory=list)
    single: list[Register] = field(default_factory=list)
    voters: int = 0
    error_classes: dict[str, int] = field(default_factory=dict)

    @property
    def protected_bits(self) -> int:
        return sum(r.width for r in self.triplicated)

    @property
    def single_bits(self) -> int:
        return sum(r.width for r in self.single)

    @property
    def bits_before(self) -> int:
        return self.protected_bits + self.single_bits

    @property
    def bits_after(self) -> int:
        return 3 * self.protected_bits + self.single_bits


def _source(cell: dict) -> str:
    return str(cell.get("attributes", {}).get("src", "unknown source"))


def cell_kind(cell_type: str) -> str:
    if cell_type in FF_TYPES or re.match(r"\$_(S?DFF|DFFE|SDFFE|SDFFCE|ALDFF|DFFSR|DFFSRE)", cell_type):
        return "ff"
    if cell_type in LATCH_TYPES or cell_type.startswith(("$_DLATCH", "$_SR_")):
        return "latch"
    if cell_type == "$tribuf" or cell_type.startswith("$_TBUF"):
        return "tristate"
    if cell_type in COMB_TYPES or cell_type.startswith("$_"):
        return "comb"
    return "unknown"


def check(module: Module, policy: Policy, submodules: frozenset[str] = frozenset()) -> None:
    """Refuse latches, tri-states, unknown cells and unnamed clock domains. `submodules`:
    stateless modules the netlist still instantiates (nothing in them to triplicate)."""
    clocks: dict[str, str] = {}
    for name, cell in module.cells.items():
        kind = "comb" if cell["type"] in submodules else cell_kind(cell["type"])
        where = f"cell {name} ({cell['type']}) at {_source(cell)}"
        if kind == "latch":
            raise TmrError(f"{where}: a latch; TMR of latches is not supported (the voter would be "
                           "transparent with them); rewrite it as a flip-flop")
        if kind == "tristate" or any(b == "z" for bits in cell["connections"].values() for b in bits):
            raise TmrError(f"{where}: a tri-state driver; triplicated drivers would fight on the net")
        if kind == "unknown" and not (policy.hook and cell["type"] == policy.hook.cell_type):
            raise TmrError(f"{where}: an unknown cell (a black box or a module yosys could not read); "
                           "the pass cannot see its registers")
        if kind == "ff":
            clk = cell["connections"].get("CLK", [])
            clocks[_net_name(module, clk)] = where
    if len(clocks) > 1 and not set(clocks) <= set(policy.clocks):
        listing = "; ".join(f"{clk} (e.g. {where})" for clk, where in sorted(clocks.items()))
        raise TmrError(f"several clock domains: {listing}; a policy must name every clock in `clocks` "
                       "for the pass to triplicate across them")


def _net_name(module: Module, bits: list) -> str:
    for name, net in module.netnames.items():
        if net["bits"] == bits and not net.get("hide_name"):
            return name
    return str(bits)


def _scope(cell_name: str) -> str:
    """The instance path yosys's flatten put in front of a cell name ("" at the top)."""
    name = cell_name.lstrip("\\")
    if name.startswith("$flatten\\"):
        path = name[len("$flatten\\"):]
        return path[: path.rfind(".$") + 1] if ".$" in path else ""
    return ""


def register_name(module: Module, cell_name: str, q_bits: list) -> tuple[str, str | None]:
    """The register's readable name and its `tmr` attribute.

    Many nets carry a register's bits (ports it drives, wires it feeds); the name is
    the one declared in the module instance the flip-flop belongs to, preferring `_q`.
    """
    scope = _scope(cell_name)
    exact = [(n, net) for n, net in module.netnames.items() if net["bits"] == q_bits]
    candidates = [(n, net) for n, net in exact if not net.get("hide_name")] or exact
    if not candidates:
        q_set = set(q_bits)
        candidates = sorted(((n, net) for n, net in module.netnames.items()
                             if not net.get("hide_name") and q_set & set(net["bits"])),
                            key=lambda item: -len(q_set & set(item[1]["bits"])))[:5]
    if not candidates:
        return cell_name, None

    def rank(item: tuple[str, dict]) -> tuple[bool, bool, int]:
        name = item[0]
        local = name.startswith(scope) and "." not in name[len(scope):]
        return (not local, not name.endswith("_q"), len(name))

    name, net = min(candidates, key=rank)
    attribute = net.get("attributes", {}).get("tmr")
    return name, attribute if isinstance(attribute, str) else None


def replica_base(name: str) -> str:
    """A plain Verilog identifier for a register's replicas: other characters become `__`,
    so `u_core.u_encoder.g_unit[3].acc_q` gives `u_core__u_encoder__g_unit__3____acc_q`."""
    return re.sub(r"[^A-Za-z0-9_]", "__", name.lstrip("\\$"))


def registers(module: Module, policy: Policy) -> list[Register]:
    found = []
    for cell_name, cell in sorted(module.cells.items()):
        if cell_kind(cell["type"]) != "ff":
            continue
        q_bits = cell["connections"]["Q"]
        name, attribute = register_name(module, cell_name, q_bits)
        chosen, error_class = policy.decide(name, attribute)
        found.append(Register(name, cell_name, len(q_bits), chosen, error_class, _source(cell)))
    return found


def take_init(module: Module, q_bits: list) -> str | None:
    """The register's power-up value, moved off the nets its output drives: yosys keeps it as
    the `init` attribute of those nets (a binary string, most significant bit first). The
    replicas are the flip-flops now and get it; the register's own net is the voter's output,
    which powers up as the majority of theirs. None when no bit has one."""
    wanted = set(q_bits)
    found: dict[int | str, str] = {}
    for net in module.netnames.values():
        init = net.get("attributes", {}).get("init")
        if not isinstance(init, str) or len(init) != len(net["bits"]) or not wanted & set(net["bits"]):
            continue
        values = list(reversed(init))  # least significant first, like the bits
        for i, bit in enumerate(net["bits"]):
            if bit in wanted:
                found[bit], values[i] = values[i], "x"
        if set(values) <= {"x"}:
            del net["attributes"]["init"]
        else:
            net["attributes"]["init"] = "".join(reversed(values))
    value = "".join(found.get(bit, "x") for bit in reversed(q_bits))
    return None if set(value) <= {"x"} else value


def triplicate(module: Module, reg: Register) -> list[int]:
    """Three copies of the register's cell and a voter onto its Q net; returns the error bit."""
    cell = module.cells.pop(reg.cell)
    q_bits = cell["connections"]["Q"]
    base = replica_base(reg.name)
    net_attributes = {"tmr_replica_of": reg.name}
    init = take_init(module, q_bits)
    if init is not None:
        net_attributes["init"] = init
    copies = []
    for k in range(3):
        bits = module.new_bits(reg.width)
        replica = copy.deepcopy(cell)
        replica["connections"]["Q"] = bits
        replica["hide_name"] = 0
        replica["attributes"] = {**replica.get("attributes", {}), "keep": 1, "tmr_replica_of": reg.name}
        module.cells[f"{base}__tmr{k}_ff"] = replica  # cells and nets share one namespace
        module.add_net(f"{base}__tmr{k}", bits, dict(net_attributes))
        copies.append(bits)
    a, b, c = copies
    w = reg.width
    ab = module.binary("$and", f"{base}__vote_ab", a, b, w)
    ac = module.binary("$and", f"{base}__vote_ac", a, c, w)
    bc = module.binary("$and", f"{base}__vote_bc", b, c, w)
    either = module.binary("$or", f"{base}__vote_or", ab, ac, w)
    module.add_cell(f"{base}__vote", "$or", {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": w, "B_WIDTH": w,
                                              "Y_WIDTH": w},
                    {"A": either, "B": bc, "Y": q_bits}, {"A": "input", "B": "input", "Y": "output"},
                    {"keep": 1, "tmr_voter_of": reg.name})
    diff_b = module.binary("$xor", f"{base}__diff_ab", a, b, w)
    diff_c = module.binary("$xor", f"{base}__diff_ac", a, c, w)
    diff = module.binary("$or", f"{base}__diff", diff_b, diff_c, w)
    error = module.reduce_or(f"{base}__err_reduce", diff)
    module.add_net(f"{base}__err", error, {"tmr_error_of": reg.name})
    return error


def _or_all(module: Module, name: str, bits: list) -> list:
    if not bits:
        return ["0"]
    if len(bits) == 1:
        return list(bits)
    return module.reduce_or(name, bits)


def connect_errors(module: Module, policy: Policy, errors: dict[str, list]) -> None:
    flags = [_or_all(module, f"tmr_flag_{cls}_reduce", errors.get(cls, []))[0] for cls in policy.classes]
    for cls, bit in zip(policy.classes, flags, strict=True):
        module.add_net(f"tmr_flag_{cls}", [bit])
    upset = _or_all(module, "tmr_upset_reduce", [b for b in flags if b != "0"])
    hooks = [n for n, c in module.cells.items() if policy.hook and c["type"] == policy.hook.cell_type]
    if hooks:
        for name in hooks:
            cell = module.cells.pop(name)
            target_flags = cell["connections"][policy.hook.flags_port]
            if len(target_flags) != len(flags):
                raise TmrError(f"hook {name}: {len(target_flags)} flag bits, the policy has "
                               f"{len(flags)} classes ({', '.join(policy.classes)})")
            module.drive(f"{name}__flags", target_flags, flags)
            module.drive(f"{name}__upset", cell["connections"][policy.hook.upset_port], upset)
        return
    if policy.error_port in module.ports:
        raise TmrError(f"the design already has a port {policy.error_port!r} and no hook cell drives it; "
                       "name another error_port in the policy")
    bits = module.new_bits(1)
    module.ports[policy.error_port] = {"direction": "output", "bits": bits}
    module.add_net(policy.error_port, bits)
    module.drive("tmr_error_port", bits, upset)


def harden(module: Module, policy: Policy, submodules: frozenset[str] = frozenset()) -> Report:
    check(module, policy, submodules)
    report = Report()
    errors: dict[str, list] = {}
    for reg in registers(module, policy):
        if reg.policy == "none":
            report.single.append(reg)
            continue
        errors.setdefault(reg.error_class, []).extend(triplicate(module, reg))
        report.triplicated.append(reg)
        report.voters += 1
    report.error_classes = {cls: len(errors.get(cls, [])) for cls in policy.classes}
    connect_errors(module, policy, errors)
    return report
