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
    #: registers the policy leaves single inside the domains' logic: one copy per domain
    per_domain: list[Register] = field(default_factory=list)
    #: cells of next-state logic copied into domains 1 and 2 (0 without `full` registers)
    domain_logic_cells: int = 0
    #: what every domain reads: pads, voted outputs of simple-TMR registers
    shared_inputs: list[str] = field(default_factory=list)

    @property
    def protected_bits(self) -> int:
        return sum(r.width for r in self.triplicated)

    @property
    def single_bits(self) -> int:
        return sum(r.width for r in self.single)

    @property
    def per_domain_bits(self) -> int:
        return sum(r.width for r in self.per_domain)

    @property
    def bits_before(self) -> int:
        return self.protected_bits + self.single_bits + self.per_domain_bits

    @property
    def bits_after(self) -> int:
        return 3 * (self.protected_bits + self.per_domain_bits) + self.single_bits


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


#: flip-flop ports that carry the clock: the clock tree is not part of a domain's logic
CLOCK_PORTS = frozenset({"CLK", "C"})
#: the domains of full module triplication
DOMAINS = (0, 1, 2)


def voter_name(base: str, domain: int | None) -> str:
    """The cell that drives a voter's output: `<base>__vote` (one voter: `pipeline`,
    `full-shared`), `<base>__vote_d<k>` (domain k's voter of a `full` register)."""
    return f"{base}__vote" if domain is None else f"{base}__vote_d{domain}"


def error_name(base: str, domain: int | None) -> str:
    """The net holding a register's error bit (its copies disagree), per domain for `full`."""
    return f"{base}__err" if domain is None else f"{base}__err_d{domain}"


def _replicas(module: Module, cell: dict, reg: Register) -> list[list[int]]:
    """Three copies of the register's flip-flop cell (inputs as the original's); their Q bits."""
    q_bits = cell["connections"]["Q"]
    base = replica_base(reg.name)
    net_attributes = {"tmr_replica_of": reg.name}
    init = take_init(module, q_bits)
    if init is not None:
        net_attributes["init"] = init
    copies = []
    for k in DOMAINS:
        bits = module.new_bits(reg.width)
        replica = copy.deepcopy(cell)
        replica["connections"]["Q"] = bits
        replica["hide_name"] = 0
        replica["attributes"] = {**replica.get("attributes", {}), "keep": 1, "tmr_replica_of": reg.name,
                                 "tmr_copy": k, "tmr_policy": reg.policy}
        module.cells[f"{base}__tmr{k}_ff"] = replica  # cells and nets share one namespace
        module.add_net(f"{base}__tmr{k}", bits, dict(net_attributes))
        copies.append(bits)
    return copies


def _voter(module: Module, reg: Register, copies: list[list[int]], out: list, domain: int | None) -> None:
    """A bitwise majority of the three copies driving `out`. A domain's voter carries the
    `submod` attribute, so that the written netlist holds it as a module of its own: synthesis
    would otherwise merge the three voters of a register, identical functions of the same
    copies, into one, and with them the domains behind them."""
    a, b, c = copies
    w = reg.width
    name = voter_name(replica_base(reg.name), domain)
    extra: dict = {} if domain is None else {"tmr_domain": domain, "submod": f"{name}_m"}

    def gate(cell_type: str, suffix: str, x: list, y: list) -> list[int]:
        bits = module.binary(cell_type, f"{name}_{suffix}", x, y, w)
        module.cells[f"{name}_{suffix}"]["attributes"].update(extra)
        return bits

    ab, ac, bc = gate("$and", "ab", a, b), gate("$and", "ac", a, c), gate("$and", "bc", b, c)
    either = gate("$or", "or", ab, ac)
    module.add_cell(name, "$or", {"A_SIGNED": 0, "B_SIGNED": 0, "A_WIDTH": w, "B_WIDTH": w, "Y_WIDTH": w},
                    {"A": either, "B": bc, "Y": list(out)}, {"A": "input", "B": "input", "Y": "output"},
                    {"keep": 1, "tmr_voter_of": reg.name, **extra})


def _comparator(module: Module, reg: Register, copies: list[list[int]], domain: int | None) -> list[int]:
    """The register's error bit: any two copies disagree."""
    a, b, c = copies
    base, w = replica_base(reg.name), reg.width
    tag = "" if domain is None else f"_d{domain}"
    diff_b = module.binary("$xor", f"{base}__diff_ab{tag}", a, b, w)
    diff_c = module.binary("$xor", f"{base}__diff_ac{tag}", a, c, w)
    diff = module.binary("$or", f"{base}__diff{tag}", diff_b, diff_c, w)
    error = module.reduce_or(f"{base}__err_reduce{tag}", diff)
    if domain is not None:
        for suffix in ("diff_ab", "diff_ac", "diff", "err_reduce"):
            module.cells[f"{base}__{suffix}{tag}"]["attributes"]["tmr_domain"] = domain
    module.add_net(error_name(base, domain), error, {"tmr_error_of": reg.name})
    return error


def triplicate(module: Module, reg: Register, comparators: int = 1) -> list[list[int]]:
    """Three copies of the register's cell and one voter onto its Q net (`pipeline`,
    `full-shared`); returns the error bit of each of `comparators` domains (1 or 3)."""
    cell = module.cells.pop(reg.cell)
    copies = _replicas(module, cell, reg)
    _voter(module, reg, copies, cell["connections"]["Q"], None)
    if comparators == 1:
        return [_comparator(module, reg, copies, None)]
    return [_comparator(module, reg, copies, k) for k in DOMAINS]


def _or_all(module: Module, name: str, bits: list) -> list:
    if not bits:
        return ["0"]
    if len(bits) == 1:
        return list(bits)
    return module.reduce_or(name, bits)


def flag_net(error_class: str, tag: str = "") -> str:
    """The net of one error class's flag: class names come from a policy file, nets must be
    plain identifiers (a default class is a policy name such as `full-shared`)."""
    identifier = re.sub(r"\W", "_", error_class)
    return f"tmr_flag_{identifier}{tag}"


def connect_errors(module: Module, policy: Policy, errors: dict[int | None, dict[str, list]],
                   maps: dict[int, dict]) -> None:
    """The class flags and the any-upset flag of every error domain onto the hook (domain 0, or
    the single error logic, drives the hook's own outputs; domain k > 0 the bits its copies of
    the logic read instead, `maps[k]`), or, without a hook, onto a new output port."""
    hooks = [n for n, c in module.cells.items() if policy.hook and c["type"] == policy.hook.cell_type]
    for domain, per_class in errors.items():
        tag = "" if domain is None else f"_d{domain}"
        flags = [_or_all(module, f"{flag_net(cls, tag)}_reduce", per_class.get(cls, []))[0]
                 for cls in policy.classes]
        for cls, bit in zip(policy.classes, flags, strict=True):
            module.add_net(flag_net(cls, tag), [bit])
        upset = _or_all(module, f"tmr_upset{tag}_reduce", [b for b in flags if b != "0"])
        if domain is not None:
            reduces = [f"{flag_net(cls, tag)}_reduce" for cls in policy.classes] + [f"tmr_upset{tag}_reduce"]
            for name in reduces:
                if name in module.cells:
                    module.cells[name]["attributes"]["tmr_domain"] = domain
        remap = maps.get(domain or 0, {})
        for name in hooks:
            cell = module.cells[name]
            target_flags = [remap.get(b, b) for b in cell["connections"][policy.hook.flags_port]]
            if len(target_flags) != len(flags):
                raise TmrError(f"hook {name}: {len(target_flags)} flag bits, the policy has "
                               f"{len(flags)} classes ({', '.join(policy.classes)})")
            target_upset = [remap.get(b, b) for b in cell["connections"][policy.hook.upset_port]]
            for port, target, source in ((policy.hook.flags_port, target_flags, flags),
                                         (policy.hook.upset_port, target_upset, upset)):
                what = "flags" if port == policy.hook.flags_port else "upset"
                drive = f"{name}__{what}{tag if domain else ''}"
                module.drive(drive, target, source)
                if domain is not None:
                    module.cells[drive]["attributes"].update({"tmr_domain": domain, "tmr_hook_port": port})
        if hooks:
            continue
        if policy.error_port in module.ports:
            raise TmrError(f"the design already has a port {policy.error_port!r} and no hook cell drives it; "
                           "name another error_port in the policy")
        bits = module.new_bits(1)
        module.ports[policy.error_port] = {"direction": "output", "bits": bits}
        module.add_net(policy.error_port, bits)
        module.drive("tmr_error_port", bits, upset)
    for name in hooks:
        module.cells.pop(name)


@dataclass(frozen=True)
class DomainPlan:
    """What full module triplication copies into each domain (found on the plain netlist)."""

    #: combinational cells (and stateless submodule instances) computing the next value of a
    #: `full` register, back to flip-flop outputs and pads: domain 0 keeps them, 1 and 2 get copies
    logic: tuple[str, ...]
    #: flip-flops the policy leaves single inside that logic (pad synchronisers): one per domain,
    #: not voted
    local: tuple[str, ...]
    #: bits every domain reads: pads and the voted outputs of `pipeline` and `full-shared`
    #: registers; domains 1 and 2 read them through a buffer of their own
    shared: tuple[int, ...]
    #: the logic reads the error hook's outputs (status registers counting upsets)
    reads_hook: bool


def _outputs(cell: dict) -> list[list]:
    directions = cell.get("port_directions", {})
    return [bits for port, bits in cell["connections"].items() if directions.get(port) == "output"]


def _inputs(cell: dict) -> list[tuple[str, list]]:
    directions = cell.get("port_directions", {})
    return [(port, bits) for port, bits in cell["connections"].items() if directions.get(port) != "output"]


def _state_inputs(cell: dict) -> list:
    """The bits a flip-flop's next value depends on: every input but the clock."""
    return [b for port, bits in _inputs(cell) if port not in CLOCK_PORTS for b in bits]


def plan_domains(module: Module, regs: list[Register], hooks: set[str]) -> DomainPlan:
    driver = {b: name for name, cell in module.cells.items() for bits in _outputs(cell) for b in bits
              if isinstance(b, int)}
    policy_of = {r.cell: r.policy for r in regs}
    logic: set[str] = set()
    local: set[str] = set()
    shared: set[int] = set()
    reads_hook = False
    pending = [b for r in regs if r.policy == "full" for b in _state_inputs(module.cells[r.cell])]
    seen: set = set()
    while pending:
        bit = pending.pop()
        if isinstance(bit, str) or bit in seen:
            continue
        seen.add(bit)
        name = driver.get(bit)
        if name is None:  # a pad
            shared.add(bit)
            continue
        if name in hooks:
            reads_hook = True
            continue
        cell = module.cells[name]
        if name in policy_of:
            if policy_of[name] == "none":
                local.add(name)
                pending.extend(_state_inputs(cell))
            elif policy_of[name] != "full":
                shared.add(bit)
            continue
        if name not in logic:
            logic.add(name)
            pending.extend(b for _, bits in _inputs(cell) for b in bits)
    return DomainPlan(tuple(sorted(logic)), tuple(sorted(local)), tuple(sorted(shared)), reads_hook)


def copy_name(name: str, domain: int) -> str:
    """Domain k's copy of a plain cell or net (domain 0 keeps the plain name)."""
    return f"{name}__d{domain}"


def _copy_cell(module: Module, name: str, cell: dict, domain: int, remap: dict) -> None:
    replica = copy.deepcopy(cell)
    replica["connections"] = {port: [remap.get(b, b) for b in bits]
                              for port, bits in cell["connections"].items()}
    replica["attributes"] = {**cell.get("attributes", {}), "tmr_domain": domain, "tmr_copy_of": name}
    if cell_kind(cell["type"]) == "ff":
        replica["attributes"]["keep"] = 1
    if copy_name(name, domain) in module.cells:
        raise TmrError(f"cannot copy cell {name} into domain {domain}: {copy_name(name, domain)} exists")
    module.cells[copy_name(name, domain)] = replica


def _name_copies(module: Module, remap: dict, domain: int) -> None:
    """Domain k's names for the plain nets it copied: `<net>__d<k>`."""
    for name, net in list(module.netnames.items()):
        bits = net["bits"]
        if bits and all(b in remap for b in bits) and copy_name(name, domain) not in module.netnames:
            module.netnames[copy_name(name, domain)] = {
                "hide_name": net.get("hide_name", 0), "bits": [remap[b] for b in bits],
                "attributes": {"tmr_domain": domain}}


def harden(module: Module, policy: Policy, submodules: frozenset[str] = frozenset()) -> Report:
    check(module, policy, submodules)
    report = Report()
    regs = registers(module, policy)
    hooks = {n for n, c in module.cells.items() if policy.hook and c["type"] == policy.hook.cell_type}
    plan = plan_domains(module, regs, hooks) if any(r.policy == "full" for r in regs) else None
    error_domains: tuple[int | None, ...] = DOMAINS if plan and plan.reads_hook else (None,)
    errors: dict[int | None, dict[str, list]] = {k: {} for k in error_domains}
    maps: dict[int, dict] = {k: {} for k in DOMAINS[1:]}
    plain_cells = {name: module.cells[name] for name in (plan.logic + plan.local if plan else ())}
    if plan and plan.reads_hook:
        plain_cells.update((name, module.cells[name]) for name in sorted(hooks))
    for remap in maps.values():
        for cell in plain_cells.values():
            for bits in _outputs(cell):
                remap.update((b, nb) for b, nb in zip(bits, module.new_bits(len(bits)), strict=True)
                             if isinstance(b, int))
    for name in hooks:  # the error logic drives the hook's outputs in every domain
        plain_cells.pop(name, None)
    read_by_domains = {b for name in plain_cells for _, bits in _inputs(module.cells[name]) for b in bits}
    read_by_domains.update(b for r in regs if r.policy == "full" for b in _state_inputs(module.cells[r.cell]))
    full_replicas: list[tuple[list[str], dict]] = []
    for reg in regs:
        if reg.policy == "none":
            (report.per_domain if plan and reg.cell in plan.local else report.single).append(reg)
            continue
        report.triplicated.append(reg)
        if reg.policy == "full":
            cell = module.cells.pop(reg.cell)
            copies = _replicas(module, cell, reg)
            q_bits = cell["connections"]["Q"]
            for k in DOMAINS:
                if k and not read_by_domains.intersection(q_bits):
                    continue  # no logic of the domains reads the register: domain 0's voter serves the rest
                out = list(q_bits) if k == 0 else module.new_bits(reg.width)
                if k:
                    maps[k].update(zip(q_bits, out, strict=True))
                _voter(module, reg, copies, out, k)
                report.voters += 1
            base = replica_base(reg.name)
            full_replicas.append(([f"{base}__tmr{k}_ff" for k in DOMAINS], cell))
            found = [_comparator(module, reg, copies, k) for k in error_domains]
        else:
            found = triplicate(module, reg, len(error_domains))
            report.voters += 1
        for k, bit in zip(error_domains, found, strict=True):
            errors[k].setdefault(reg.error_class, []).extend(bit)
    if plan:
        _fan_out(module, plan, maps, report)
        for name, cell in plain_cells.items():
            for k, remap in maps.items():
                _copy_cell(module, name, cell, k, remap)
        for replicas, cell in full_replicas:
            for k, remap in maps.items():
                own = module.cells[replicas[k]]["connections"]
                module.cells[replicas[k]]["connections"] = {
                    port: own[port] if port == "Q" else [remap.get(b, b) for b in bits]
                    for port, bits in cell["connections"].items()}
        report.domain_logic_cells = len(plan.logic)
    connect_errors(module, policy, errors, maps)
    if plan:
        for k, remap in maps.items():
            _name_copies(module, remap, k)
    report.error_classes = {cls: len(errors[error_domains[0]].get(cls, [])) for cls in policy.classes}
    return report


def _fan_out(module: Module, plan: DomainPlan, maps: dict[int, dict], report: Report) -> None:
    """Domains 1 and 2 read the shared bits (pads, voted outputs of simple-TMR registers) through
    a buffer of their own, kept as a module of its own in the written netlist (`submod`), so
    that synthesis cannot merge their copies of the logic that reads only such bits."""
    report.shared_inputs = sorted({_bit_owner(module, b) for b in plan.shared})
    if not plan.shared:
        return
    for k, remap in maps.items():
        out = module.new_bits(len(plan.shared))
        name = f"tmr_fanout_d{k}"
        module.drive(name, out, list(plan.shared))
        module.cells[name]["attributes"].update({"tmr_domain": k, "tmr_fanout": 1, "submod": f"{name}_m"})
        remap.update(zip(plan.shared, out, strict=True))
        module.add_net(f"{name}_y", out, {"tmr_domain": k})


def _bit_owner(module: Module, bit: int) -> str:
    """The name of a net holding `bit` (`name[i]`), preferring ports."""
    for name, port in module.ports.items():
        if bit in port["bits"]:
            return name if len(port["bits"]) == 1 else f"{name}[{port['bits'].index(bit)}]"
    for name, net in sorted(module.netnames.items(), key=lambda kv: (kv[1].get("hide_name", 0), len(kv[0]))):
        if bit in net["bits"]:
            return name if len(net["bits"]) == 1 else f"{name}[{net['bits'].index(bit)}]"
    return str(bit)
