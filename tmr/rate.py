"""Upset-rate figures of a flip-flop inventory, plain and TMR-hardened.

The inventory is the flip-flop bits per error class that the TMR pass triplicated, and
the bits it left single. With a per-bit upset cross-section sigma (cm2) and a particle
flux phi (cm-2 s-1), every flip-flop bit upsets at the rate lambda = sigma * phi (per
second), independently of the others:

* plain build: N bits give N * lambda upsets per second;
* hardened build: the 3N replica bits give 3N * lambda upsets, each repaired at the next
  clock edge and flagged by its voter;
* a bit of the hardened build is lost when two of its three replicas are upset within the
  same clock period T (the refresh interval: every replica reloads the voted value at
  every edge). With p = 1 - exp(-lambda T), the probability that a replica is upset in
  one period, two or three of three are upset with P = 3p^2(1-p) + p^3 = p^2 (3 - 2p),
  so a protected bit fails at P / T per second (about 3 lambda^2 T when lambda T << 1);
* a register left single is not voted: every upset of it stays, at lambda per bit.

Neglected: upsets of the voters, the clock tree and the reset (the voters are
combinational: a transient there is not counted), and multiple-bit upsets where one
particle flips two replicas of the same bit (placement must keep replicas apart for the
model to hold).

The module knows classes and bit counts only; what the registers are is the caller's.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asicgen.core.raw import ConfigError, check_keys, get_int, get_str
from asicgen.core.render import Stamp
from tmr.flow import REPORT_FORMAT

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 365.25 * 24

#: per-bit SEU cross-section of a flip-flop (cm2) for high-energy hadrons: an assumed round
#: figure, not a measurement (docs/tmr.md says why); give the cell library's measured value
DEFAULT_CROSS_SECTION_CM2 = 1e-14
#: high-energy hadron (E >= 20 MeV) flux at the HGCAL concentrator ASICs, the upper end:
#: "up to 2e7 cm-2 s-1" (M. Lupi et al., arXiv:2411.03476)
DEFAULT_FLUX_CM2_S = 2e7

#: single-event-transient cross-section of one net (cm2): an assumed round figure, like the
#: per-bit one (docs/tmr.md), for the charge a hadron deposits on one cell output
DEFAULT_SET_CROSS_SECTION_CM2 = 1e-14
#: how long before a clock edge a transient must arrive to be latched (its width plus the
#: flip-flop's setup and hold), ps: an assumption (docs/tmr.md)
DEFAULT_LATCH_WINDOW_PS = 500.0

#: the `format` of the JSON figures
FIGURES_FORMAT = "asicgen-seu-rate/1"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python


def _positive_finite(value: object, what: str) -> float:
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{what} must be a positive finite number, got {value!r}")
    return number


@dataclass(frozen=True)
class Environment:
    """Where the chips run: per-bit cross-section (cm2), flux (cm-2 s-1), clock (MHz; one
    period is the refresh interval of a protected bit) and how many chips.

    The clock has no default: it is the design's, which only the caller knows; it is
    keyword-only so it can never be taken for one of the other numbers."""

    cross_section_cm2: float = DEFAULT_CROSS_SECTION_CM2
    flux_cm2_s: float = DEFAULT_FLUX_CM2_S
    chips: int = 1
    clock_mhz: float = field(kw_only=True)
    set_cross_section_cm2: float = field(default=DEFAULT_SET_CROSS_SECTION_CM2, kw_only=True)
    latch_window_ps: float = field(default=DEFAULT_LATCH_WINDOW_PS, kw_only=True)

    def __post_init__(self) -> None:
        _positive_finite(self.set_cross_section_cm2, "the transient cross-section (cm2 per net)")
        _positive_finite(self.latch_window_ps, "the latching window (ps)")
        _positive_finite(self.cross_section_cm2, "the cross-section (cm2 per bit)")
        _positive_finite(self.flux_cm2_s, "the flux (cm-2 s-1)")
        _positive_finite(self.clock_mhz, "the clock frequency (MHz)")
        if not _is_int(self.chips) or self.chips < 1:
            raise ConfigError(f"the number of chips must be an integer of at least 1, got {self.chips!r}")

    @property
    def upsets_per_bit_second(self) -> float:
        return self.cross_section_cm2 * self.flux_cm2_s

    @property
    def period_s(self) -> float:
        return 1e-6 / self.clock_mhz

    @property
    def transients_per_net_second(self) -> float:
        return self.set_cross_section_cm2 * self.flux_cm2_s

    @property
    def latch_probability(self) -> float:
        """That a transient on a net is latched by the next edge: the window over the period."""
        return min(1.0, self.latch_window_ps * 1e-12 / self.period_s)


def triplet_loss_probability(upset_rate: float, period_s: float) -> float:
    """Probability that two or three replicas of one bit are upset within one period."""
    p = -math.expm1(-upset_rate * period_s)  # 1 - exp(-x) without cancellation for tiny x
    return p * p * (3.0 - 2.0 * p)


@dataclass(frozen=True)
class ClassBits:
    name: str
    bits: int


@dataclass(frozen=True)
class Inventory:
    """Flip-flop bits of a design: triplicated, per error class (in report order), and
    left single."""

    design: str
    classes: tuple[ClassBits, ...]
    single_bits: int
    #: registers copied once per domain and not voted (pad synchronisers): an upset of one
    #: reaches its domain only and is outvoted downstream
    per_domain_bits: int = 0
    nets: NetInventory | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ConfigError(f"{self.design}: an error class is listed twice: {names}")
        for c in self.classes:
            if not c.name or not _is_int(c.bits) or c.bits < 0:
                raise ConfigError(f"{self.design}: class {c.name!r} needs a name and a bit count >= 0, "
                                  f"got {c.bits!r}")
        if not _is_int(self.single_bits) or self.single_bits < 0:
            raise ConfigError(f"{self.design}: single bits must be an integer >= 0, got {self.single_bits!r}")

    @classmethod
    def from_report(cls, raw: Any, where: str) -> Inventory:
        """The inventory of a TMR report as `tmr.flow.report_raw` writes it (tmr_report.json)."""
        data = check_keys(raw, where, {"format", "registers", "single"},
                          {"top", "classes", "totals", "per_domain", "nets"})
        if data["format"] != REPORT_FORMAT:
            raise ConfigError(f"{where}.format: {data['format']!r} is not a TMR report this version reads "
                              f"({REPORT_FORMAT})")
        order = _class_order(data.get("classes"), where)
        bits = _class_bits(data["registers"], f"{where}.registers", order)
        single = _entries(data["single"], f"{where}.single", {"name", "width"}, {"source"})
        per_domain = _entries(data.get("per_domain", []), f"{where}.per_domain", {"name", "width"},
                              {"source"})
        nets = NetInventory.from_raw(data["nets"], f"{where}.nets") if "nets" in data else None
        return cls(get_str(data, "top", where, default=where),
                   tuple(ClassBits(name, count) for name, count in bits.items()),
                   sum(get_int(e, "width", w, lo=1) for w, e in single),
                   sum(get_int(e, "width", w, lo=1) for w, e in per_domain), nets)


@dataclass(frozen=True)
class NetInventory:
    """Internal net bits of a hardened netlist (`tmr.commonmode`): in the next-state logic of
    copy k of the state registers only (`per_copy`), of two or more copies (`common_mode`), of
    any (`state`), and in the whole module (`total`); the pads every copy reads."""

    common_mode: int
    per_copy: tuple[int, int, int]
    state: int
    total: int
    pads: tuple[str, ...]

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> NetInventory:
        data = check_keys(raw, where, {"common_mode", "per_copy", "state", "total"}, {"pads"})
        per_copy = data["per_copy"]
        if not isinstance(per_copy, list) or len(per_copy) != 3 or not all(_is_int(n) and n >= 0
                                                                           for n in per_copy):
            raise ConfigError(f"{where}.per_copy: expected three net counts, got {per_copy!r}")
        pads = data.get("pads", [])
        if not isinstance(pads, list) or not all(isinstance(p, str) for p in pads):
            raise ConfigError(f"{where}.pads: expected a list of pad names")
        state, total = get_int(data, "state", where, lo=0), get_int(data, "total", where, lo=0)
        if state > total:
            raise ConfigError(f"{where}: {state} state nets of {total} nets in all")
        return cls(get_int(data, "common_mode", where, lo=0), (per_copy[0], per_copy[1], per_copy[2]),
                   state, total, tuple(pads))

    @property
    def other_nets(self) -> int:
        """Nets outside the state registers' next-state logic: the datapath (refreshed every
        crossing), voters and comparators."""
        return self.total - self.state


Entry = tuple[str, dict[str, Any]]  # an entry of a register list, with its path for messages


def _entries(raw: Any, where: str, required: set[str], optional: set[str]) -> list[Entry]:
    """The entries of a list of registers, each checked for its keys, with its path."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list, got {type(raw).__name__}")
    return [(f"{where}[{i}]", check_keys(entry, f"{where}[{i}]", required, optional))
            for i, entry in enumerate(raw)]


def _class_order(raw: Any, where: str) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw):
        raise ConfigError(f"{where}.classes: expected a list of class names, got {raw!r}")
    return list(raw)


def _class_bits(raw: Any, where: str, order: list[str] | None) -> dict[str, int]:
    """Bits per class, in `order` (classes with no register included) or first appearance."""
    bits: dict[str, int] = dict.fromkeys(order or [], 0)
    for here, entry in _entries(raw, where, {"name", "width", "policy", "class"}, {"source"}):
        get_str(entry, "policy", here, choices=("full", "full-shared", "pipeline"))
        name = get_str(entry, "class", here)
        if order is not None and name not in bits:
            raise ConfigError(f"{here}.class: {name!r} is not one of the report's classes {order}")
        bits[name] = bits.get(name, 0) + get_int(entry, "width", here, lo=1)
    return bits


def load_inventory(path: Path) -> Inventory:
    """The inventory in a tmr_report.json (or *.tmr.json) file."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not a JSON TMR report ({exc})") from None
    return Inventory.from_report(raw, str(path))


@dataclass(frozen=True)
class ClassRate:
    """Expected events per hour for one chip."""

    name: str
    bits: int
    voted: bool
    plain_per_hour: float  # upsets in the plain build
    corrected_per_hour: float  # hardened: replica upsets, each repaired and flagged
    uncorrected_per_hour: float  # hardened: upsets TMR does not repair

    @property
    def mtbf_hours(self) -> float:
        """Mean time between uncorrected upsets of one chip (inf when there are none)."""
        return math.inf if self.uncorrected_per_hour == 0 else 1.0 / self.uncorrected_per_hour


def class_rate(name: str, bits: int, env: Environment, voted: bool = True) -> ClassRate:
    lam = env.upsets_per_bit_second
    plain = bits * lam * SECONDS_PER_HOUR
    if not voted:
        return ClassRate(name, bits, False, plain, 0.0, plain)
    lost = bits * triplet_loss_probability(lam, env.period_s) / env.period_s * SECONDS_PER_HOUR
    return ClassRate(name, bits, True, plain, 3 * plain, lost)


def _sum(name: str, rows: Sequence[ClassRate]) -> ClassRate:
    return ClassRate(name, sum(r.bits for r in rows), all(r.voted for r in rows),
                     sum(r.plain_per_hour for r in rows), sum(r.corrected_per_hour for r in rows),
                     sum(r.uncorrected_per_hour for r in rows))


@dataclass(frozen=True)
class TransientRate:
    """Single-event transients on one group of nets: expected per hour for one chip."""

    name: str
    nets: int
    latched_per_hour: float  # transients that reach a flip-flop at a clock edge
    uncorrected_per_hour: float  # of those, the ones that leave state wrong for good
    spoiled_per_hour: float  # of those, the ones that spoil one crossing's outputs, then clear

    @property
    def mtbf_hours(self) -> float:
        return math.inf if self.uncorrected_per_hour == 0 else 1.0 / self.uncorrected_per_hour


def transient_rates(nets: NetInventory, env: Environment) -> tuple[TransientRate, ...]:
    """Transients by where they land (docs/tmr.md, "Transients"): a latched transient on a
    common-mode net writes two or more copies of a state register wrong, for good; one on a net
    of one domain only writes that domain's copy, repaired at the next edge, unless another
    domain latches one in the same period (second order, counted); one on the datapath spoils
    the outputs of the crossing it hits."""
    latch = env.transients_per_net_second * env.latch_probability * SECONDS_PER_HOUR
    own = list(nets.per_copy)
    # probability that domain k latches a transient within one period
    p = [n * env.transients_per_net_second * env.latch_probability * env.period_s for n in own]
    pairs = (p[0] * p[1] + p[0] * p[2] + p[1] * p[2]) / env.period_s * SECONDS_PER_HOUR
    common = nets.common_mode * latch
    return (TransientRate("state logic, one copy's nets only", sum(own), sum(own) * latch, pairs, 0.0),
            TransientRate("state logic, common-mode nets", nets.common_mode, common, common, 0.0),
            TransientRate("datapath, voters and comparators", nets.other_nets, nets.other_nets * latch, 0.0,
                          nets.other_nets * latch))


@dataclass(frozen=True)
class Figures:
    design: str
    environment: Environment
    classes: tuple[ClassRate, ...]
    single: ClassRate
    transients: tuple[TransientRate, ...] = ()
    per_domain: ClassRate | None = None

    @property
    def uncorrected_per_hour(self) -> float:
        """Every event not corrected that leaves state wrong: upsets of voted bits, of unvoted
        ones, and latched transients."""
        return self.total.uncorrected_per_hour + sum(t.uncorrected_per_hour for t in self.transients)

    @property
    def protected(self) -> ClassRate:
        return _sum("voted registers", self.classes)

    @property
    def total(self) -> ClassRate:
        return _sum("all registers", [*self.classes, *([self.per_domain] if self.per_domain else []),
                                      self.single])

    def fleet_mtbf_hours(self, row: ClassRate) -> float:
        return row.mtbf_hours / self.environment.chips


def figures(inventory: Inventory, env: Environment) -> Figures:
    rows = tuple(class_rate(c.name, c.bits, env) for c in inventory.classes)
    transients = transient_rates(inventory.nets, env) if inventory.nets else ()
    # an upset of one domain's copy of an unvoted register reaches that domain only, and is
    # outvoted downstream unless another domain's copy is upset in the same period
    per_domain = (class_rate("one copy per domain (pad synchronisers)", inventory.per_domain_bits, env)
                  if inventory.per_domain_bits else None)
    return Figures(inventory.design, env, rows, class_rate("single (not voted)", inventory.single_bits, env,
                                                           voted=False), transients, per_domain)


# --- rendering


def _num(x: float) -> str:
    """Three significant digits, exponents written short (2e7, 1.22e-14)."""
    text = f"{x:.3g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _mtbf(hours: float) -> str:
    if math.isinf(hours):
        return "never"
    return f"{_num(hours)} h ({_num(hours / HOURS_PER_YEAR)} y)"


def summary_line(fig: Figures) -> str:
    """One line: the plain and hardened rates and the uncorrectable MTBF of one chip."""
    p, single = fig.protected, fig.single
    line = (f"plain {_num(fig.total.plain_per_hour)} upsets/h, hardened {_num(p.corrected_per_hour)} "
            f"corrected/h, uncorrectable {_num(p.uncorrected_per_hour)}/h (MTBF {_mtbf(p.mtbf_hours)})")
    if single.bits:
        line += f", {single.bits} unvoted bits {_num(single.uncorrected_per_hour)}/h"
    if fig.per_domain:
        line += (f", {fig.per_domain.bits} bits one copy per domain "
                 f"{_num(fig.per_domain.uncorrected_per_hour)}/h")
    if fig.transients:
        wrong = sum(t.uncorrected_per_hour for t in fig.transients)
        line += (f"; transients leaving state wrong {_num(wrong)}/h; all not corrected "
                 f"{_num(fig.uncorrected_per_hour)}/h")
    return line


def figures_markdown(fig: Figures) -> str:
    env, chips = fig.environment, fig.environment.chips
    lines = [f"# Upset rates: {fig.design}", "",
             f"* per-bit cross-section sigma = {_num(env.cross_section_cm2)} cm2{_origin(env, 'sigma')}, "
             f"flux phi = {_num(env.flux_cm2_s)} cm-2 s-1{_origin(env, 'phi')}: lambda = sigma phi = "
             f"{_num(env.upsets_per_bit_second)} upsets per bit per second",
             f"* refresh interval of a voted bit: one clock period, T = {_num(env.period_s * 1e9)} ns "
             f"({_num(env.clock_mhz)} MHz)",
             f"* rates are expected events per hour for one chip; MTBF is the mean time between events "
             f"not corrected{f', for one chip and for all {chips} chips' if chips > 1 else ''}", "",
             *_table(fig)]
    if fig.transients:
        lines += ["", "## Transients", "",
                  f"* per-net transient cross-section = {_num(env.set_cross_section_cm2)} cm2, latching "
                  f"window = {_num(env.latch_window_ps)} ps (both assumed defaults unless given: see "
                  "docs/tmr.md): a "
                  f"transient is latched with probability {_num(env.latch_probability)} per event", "",
                  *_transient_table(fig),
                  "", f"**Not corrected, upsets and transients: {_num(fig.uncorrected_per_hour)}/h** (MTBF "
                  f"{_mtbf(math.inf if fig.uncorrected_per_hour == 0 else 1 / fig.uncorrected_per_hour)}, "
                  "one "
                  "chip)"]
    lines += ["", *_NOTES]
    return "\n".join(lines) + "\n"


#: where the default figures come from, said beside them in every report that uses them
_DEFAULT_ORIGIN = {
    "sigma": (DEFAULT_CROSS_SECTION_CM2, " (assumed default, not a measurement: see docs/tmr.md)"),
    "phi": (DEFAULT_FLUX_CM2_S, " (default: upper end of the >= 20 MeV hadron flux at the HGCAL "
                                "concentrator ASICs, M. Lupi et al., arXiv:2411.03476)"),
}


def _origin(env: Environment, symbol: str) -> str:
    value = {"sigma": env.cross_section_cm2, "phi": env.flux_cm2_s}[symbol]
    default, note = _DEFAULT_ORIGIN[symbol]
    return note if value == default else ""


def _table(fig: Figures) -> list[str]:
    fleet = fig.environment.chips > 1
    head = ("| class | bits | plain: upsets/h | hardened: corrected upsets/h | hardened: not corrected/h "
            "| MTBF, one chip |" + (f" MTBF, {fig.environment.chips} chips |" if fleet else ""))
    lines = [head, "|---|" + "---:|" * (6 if fleet else 5)]
    extra = [fig.per_domain] if fig.per_domain else []
    for row in [*fig.classes, *extra, fig.single, fig.protected, fig.total]:
        if row is fig.single and not row.bits:
            continue
        line = (f"| {row.name} | {row.bits:,} | {_num(row.plain_per_hour)} | {_num(row.corrected_per_hour)} "
                f"| {_num(row.uncorrected_per_hour)} | {_mtbf(row.mtbf_hours)} |")
        lines.append(line + (f" {_mtbf(fig.fleet_mtbf_hours(row))} |" if fleet else ""))
    return lines


def _transient_table(fig: Figures) -> list[str]:
    lines = ["| nets | count | latched/h | left state wrong/h | spoiled crossings/h | MTBF, one chip |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in fig.transients:
        lines.append(f"| {row.name} | {row.nets:,} | {_num(row.latched_per_hour)} | "
                     f"{_num(row.uncorrected_per_hour)} | {_num(row.spoiled_per_hour)} | "
                     f"{_mtbf(row.mtbf_hours)} |")
    return lines


_NOTES = [
    "Plain: N lambda per class. Hardened, corrected: 3 N lambda (every replica upset is repaired at the "
    "next clock edge and flagged). Hardened, not corrected: for voted bits, two or three of the three "
    "replicas upset within one period T, N p^2 (3 - 2p) / T with p = 1 - exp(-lambda T) (about "
    "3 N lambda^2 T); for registers left single, every upset (N lambda).",
    "",
    "Transients (when the TMR report lists the nets): a transient latched on a common-mode net (in the "
    "next-state logic of two copies of one register) leaves state wrong; on one copy's nets only, the copy "
    "is repaired at the next edge unless another copy's logic latches one in the same period (counted); "
    "on the datapath, it spoils one crossing.",
    "",
    "Not counted: the clock tree; transients on the pads every copy reads (listed in the TMR report), "
    "which come from outside the core; one particle upsetting two replicas of a bit (placement must keep "
    "replicas apart: the placement constraints). Plain and corrected rates scale with sigma phi, the "
    "uncorrectable upset rate with (sigma phi)^2 T.",
]


def stamped_markdown(fig: Figures, report: Path, command: str, out_name: str,
                     shown: Path | None = None) -> str:
    """The Markdown figures for a file: a generated-file stamp (the report's hash, the command
    that regenerates it) in front. The stamp names the report as `shown` (default: `report`),
    for a report read where it is staged."""
    digest = hashlib.sha256(Path(report).read_bytes()).hexdigest()
    name = shown if shown is not None else report
    return Stamp(f"Upset rates of {fig.design} from {name}", digest, command).header(out_name) + \
        figures_markdown(fig)


def _finite_or_none(x: float) -> float | None:
    return None if math.isinf(x) else x


def _row_raw(fig: Figures, row: ClassRate) -> dict[str, Any]:
    return {"class": row.name, "bits": row.bits, "voted": row.voted, "plain_per_hour": row.plain_per_hour,
            "corrected_per_hour": row.corrected_per_hour, "uncorrected_per_hour": row.uncorrected_per_hour,
            "mtbf_hours": _finite_or_none(row.mtbf_hours),
            "mtbf_hours_all_chips": _finite_or_none(fig.fleet_mtbf_hours(row))}


def figures_raw(fig: Figures, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The figures as plain data; an MTBF of `None` means no such event is expected."""
    env = fig.environment
    return {"format": FIGURES_FORMAT, **(extra or {}), "design": fig.design,
            "environment": {"cross_section_cm2": env.cross_section_cm2, "flux_cm2_s": env.flux_cm2_s,
                            "clock_mhz": env.clock_mhz, "chips": env.chips,
                            "upsets_per_bit_second": env.upsets_per_bit_second, "period_s": env.period_s},
            "transient_environment": {"set_cross_section_cm2": env.set_cross_section_cm2,
                                      "latch_window_ps": env.latch_window_ps,
                                      "latch_probability": env.latch_probability},
            "transients": [{"nets": t.name, "count": t.nets, "latched_per_hour": t.latched_per_hour,
                            "uncorrected_per_hour": t.uncorrected_per_hour,
                            "spoiled_per_hour": t.spoiled_per_hour,
                            "mtbf_hours": _finite_or_none(t.mtbf_hours)} for t in fig.transients],
            "uncorrected_per_hour": fig.uncorrected_per_hour,
            "per_domain": _row_raw(fig, fig.per_domain) if fig.per_domain else None,
            "classes": [_row_raw(fig, r) for r in fig.classes], "single": _row_raw(fig, fig.single),
            "voted": _row_raw(fig, fig.protected), "total": _row_raw(fig, fig.total)}
