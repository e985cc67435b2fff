"""Which registers are triplicated, how, and where the voters' error flags go.

A policy is a list of rules matched in order against each register's name (the
flattened hierarchical name yosys gives it, e.g. `u_ctrl.state_q`); an RTL
attribute `(* tmr = "full" | "pipeline" | "none" *)` on the register overrides
the rules. Policies (SPEC section 9):

* `full`: weights, configuration, state machines. Full module triplication: three
  copies of the register and of the logic computing its next value, in three
  domains; each domain has its own majority voter and its logic reads only its own
  voters, so one upset or one transient (in a copy, a domain's logic or a voter)
  reaches one copy only, and that copy reloads the majority value at the next edge.
* `full-shared`: the scheme of earlier releases, kept for one release for
  comparison: three copies and one voter whose output all three copies' shared
  next-state logic reads. Repairs upsets, but one transient in the shared logic or
  the voter reaches all three copies.
* `pipeline`: datapath registers refreshed every bunch crossing. Three copies and
  a majority voter after them.
* `none`: not voted (documented, and listed in the report). A `none` register that the
  next-state logic of a `full` register reads (a pad synchroniser) gets one copy in each
  domain, so that each domain's logic reads only its own state; the others stay single.

Every rule names an error class; each class has one flag (the voters of that
class disagreeing this clock). The flags drive the outputs of a hook cell in the
design (a placeholder module the design's status logic reads: sticky bits, a counter),
or, in RTL without a hook, a new output port.

A policy is a file (TOML or JSON; `Policy.load`) or plain data (`Policy.from_raw`), and
writes itself back as TOML (`Policy.to_toml`): the same rules, read back, give the same
policy.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asicgen.core.raw import ConfigError, check_keys, get_str, load_config_file

POLICIES = ("full", "full-shared", "pipeline", "none")
#: the policy of a register no rule names: full module triplication
DEFAULT_POLICY = "full"


@dataclass(frozen=True)
class Rule:
    pattern: str
    policy: str
    error_class: str

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> Rule:
        data = check_keys(raw, where, {"match", "policy"}, {"class"})
        policy = get_str(data, "policy", where, choices=POLICIES)
        return cls(get_str(data, "match", where), policy, get_str(data, "class", where, default=policy))

    def matches(self, register: str) -> bool:
        return fnmatch.fnmatchcase(register, self.pattern)

    def to_raw(self) -> dict[str, str]:
        return {"match": self.pattern, "policy": self.policy, "class": self.error_class}


@dataclass(frozen=True)
class Hook:
    """A cell whose outputs the TMR pass drives with the error flags (then removes)."""

    cell_type: str
    flags_port: str
    upset_port: str


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default: str
    classes: tuple[str, ...]
    hook: Hook | None
    error_port: str
    clocks: tuple[str, ...]

    @classmethod
    def from_raw(cls, raw: Any, where: str = "policy") -> Policy:
        data = check_keys(raw, where, set(), {"rules", "default", "classes", "hook", "error_port", "clocks"})
        rules_raw = data.get("rules", [])
        if not isinstance(rules_raw, list):
            raise ConfigError(f"{where}.rules: expected a list of rules")
        rules = tuple(Rule.from_raw(r, f"{where}.rules[{i}]") for i, r in enumerate(rules_raw))
        default = get_str(data, "default", where, default=DEFAULT_POLICY, choices=POLICIES)
        classes_raw = data.get("classes", sorted({r.error_class for r in rules} | {default}))
        if not isinstance(classes_raw, list) or not all(isinstance(c, str) for c in classes_raw):
            raise ConfigError(f"{where}.classes: expected a list of class names")
        for i, rule in enumerate(rules):
            if rule.policy != "none" and rule.error_class not in classes_raw:
                raise ConfigError(f"{where}.rules[{i}].class: {rule.error_class!r} is not in classes "
                                  f"{classes_raw}")
        hook = None
        if "hook" in data:
            h = check_keys(data["hook"], f"{where}.hook", {"cell_type", "flags_port", "upset_port"}, set())
            hook = Hook(get_str(h, "cell_type", f"{where}.hook"), get_str(h, "flags_port", f"{where}.hook"),
                        get_str(h, "upset_port", f"{where}.hook"))
        clocks_raw = data.get("clocks", [])
        if not isinstance(clocks_raw, list) or not all(isinstance(c, str) for c in clocks_raw):
            raise ConfigError(f"{where}.clocks: expected a list of clock net names")
        return cls(rules, default, tuple(classes_raw), hook,
                   get_str(data, "error_port", where, default="tmr_err"), tuple(clocks_raw))

    @classmethod
    def load(cls, path: Path) -> Policy:
        return cls.from_raw(load_config_file(Path(path)), str(path))

    def to_raw(self) -> dict[str, Any]:
        """The policy as plain data, every field explicit: `from_raw` of it gives this policy."""
        raw: dict[str, Any] = {"default": self.default, "classes": list(self.classes),
                               "clocks": list(self.clocks), "error_port": self.error_port}
        if self.hook is not None:
            raw["hook"] = {"cell_type": self.hook.cell_type, "flags_port": self.hook.flags_port,
                           "upset_port": self.hook.upset_port}
        raw["rules"] = [rule.to_raw() for rule in self.rules]
        return raw

    def to_toml(self) -> str:
        """The policy as a TOML file, deterministically: the top-level keys, the hook table,
        then the rules in their matching order."""
        raw = self.to_raw()
        lines = [f"{key} = {_toml_value(raw[key])}" for key in ("default", "classes", "clocks", "error_port")]
        if "hook" in raw:
            lines += ["", "[hook]", *_toml_pairs(raw["hook"])]
        for rule in raw["rules"]:
            lines += ["", "[[rules]]", *_toml_pairs(rule)]
        return "\n".join(lines) + "\n"

    def with_full_scheme(self, scheme: str) -> Policy:
        """The same policy with every `full` register hardened by `scheme` ("full" or
        "full-shared"), to measure the two schemes side by side."""
        if scheme not in ("full", "full-shared"):
            raise ConfigError(f"full scheme {scheme!r}: expected 'full' or 'full-shared'")
        other = "full-shared" if scheme == "full" else "full"
        swap = {other: scheme}
        rules = tuple(Rule(r.pattern, swap.get(r.policy, r.policy), r.error_class) for r in self.rules)
        return Policy(rules, swap.get(self.default, self.default), self.classes, self.hook,
                      self.error_port, self.clocks)

    def decide(self, register: str, attribute: str | None) -> tuple[str, str]:
        """(policy, error class) of a register."""
        if attribute is not None:
            if attribute not in POLICIES:
                raise ConfigError(f"register {register}: attribute tmr={attribute!r} is not one of "
                                  f"{', '.join(POLICIES)}")
            for rule in self.rules:
                if rule.matches(register):
                    return attribute, rule.error_class
            return attribute, self._default_class(attribute)
        for rule in self.rules:
            if rule.matches(register):
                return rule.policy, rule.error_class
        return self.default, self._default_class(self.default)

    def _default_class(self, policy: str) -> str:
        if policy in self.classes:
            return policy
        base = policy.split("-")[0]
        return base if base in self.classes else self.classes[0]


def _toml_pairs(table: dict[str, Any]) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in table.items()]


def _toml_value(value: str | list[str]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_string(v) for v in value) + "]"
    return _toml_string(value)


def _toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and the control characters TOML forbids raw
    (all of U+0000..U+001F and U+007F, tab included for simplicity) are escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
