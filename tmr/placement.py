"""Placement groups for a hardened netlist: keep the three copies of state apart.

One particle can upset neighbouring flip-flops (a multi-bit upset); when two of them are
copies of one bit, the voters are defeated. The layout must keep the copies apart. This
module writes what a layout tool needs for that, as Tcl: three groups, one per copy k
(domain k with full module triplication), each holding

* the flip-flops of copy k of every register whose state must survive (`full`,
  `full-shared`): `<replica base>__tmr<k>*`;
* domain k's voters, which the written netlist keeps as module instances
  (`*_vote_d<k>_m*`), and domain k's buffers of the pads (`tmr_fanout_d<k>_m*`, k > 0);
* domain k's copies of the registers copied once per domain (`<register>__d<k>*`, k > 0;
  domain 0's keeps the register's plain name, a prefix of the others', so it is left out
  of the groups: a fence keeps it out of the other two anyway).

Patterns, not instance names: a synthesis tool names the flip-flops of a register after
it (`<reg>_reg[5]`, `<reg>_q_reg_5_`), so the patterns hold for any of them. The
combinational cells of each domain lose their names in synthesis and are left to the
placer, which puts them near what they connect to. The `pipeline` registers of the
datapath are not grouped: an upset there spoils one crossing, and spreading the copies
would lengthen the datapath's paths.

`tmr_fence_innovus LLX LLY URX URY` makes the groups fences in three vertical bands of the
given core box (Innovus `createInstGroup -fence`, `addInstToInstGroup`). The project has no
placer: the commands are not run here, only written (their syntax is tested as Tcl).
"""

from __future__ import annotations

import re

from tmr.transform import DOMAINS, Report, copy_name, replica_base

#: the file's name beside a hardened netlist (`asicgen generate --tmr`: rtl_tmr/)
PLACEMENT_FILE = "tmr_placement.tcl"
#: policies whose copies are grouped (state that must survive)
GROUPED_POLICIES = ("full", "full-shared")


def groups(report: Report) -> dict[str, list[str]]:
    """Group name -> instance-name patterns, per copy (module docstring)."""
    out: dict[str, list[str]] = {}
    state = [r for r in report.triplicated if r.policy in GROUPED_POLICIES]
    domains = any(r.policy == "full" for r in state)
    for k in DOMAINS:
        patterns = [f"{replica_base(r.name)}__tmr{k}*" for r in state]
        if domains:
            patterns.append(f"*_vote_d{k}_m*")
            if k:
                patterns.append(f"tmr_fanout_d{k}_m*")
        if k:
            patterns += [_glob(copy_name(r.name, k)) for r in report.per_domain]
        out[f"tmr_copy{k}"] = patterns
    return out


def _glob(name: str) -> str:
    """A pattern for the flip-flops of a register kept under its hierarchical name: every run of
    characters a tool may rewrite (dots, brackets, escapes) matches anything."""
    return re.sub(r"[^A-Za-z0-9_]+", "*", name) + "*"


def _tcl_list(items: list[str]) -> str:
    return "{" + " ".join(items) + "}"


def placement_tcl(report: Report, top: str, header: str = "") -> str:
    """The Tcl file (module docstring): the groups as a dict, and the Innovus procedure."""
    found = groups(report)
    lines = [header.rstrip("\n")] if header else []
    lines += [
        f"# Placement groups of the TMR-hardened {top}: keep the three copies of its state apart,",
        "# so that one particle cannot upset two copies of one bit (docs/tmr.md, Placement).",
        "# Usage (Innovus, after reading the netlist and floorplanning):",
        f"#   source {PLACEMENT_FILE}",
        "#   tmr_fence_innovus $core_llx $core_lly $core_urx $core_ury",
        "# Other tools: the dict tmr_groups maps each group to instance-name patterns.",
        "set tmr_groups [dict create \\",
        *(f"  {name} {_tcl_list(patterns)} \\" for name, patterns in found.items()),
        "]",
        "",
        "proc tmr_fence_innovus {llx lly urx ury} {",
        "  global tmr_groups",
        "  set width [expr {($urx - $llx) / 3.0}]",
        "  set k 0",
        "  dict for {group patterns} $tmr_groups {",
        "    set x0 [expr {$llx + $k * $width}]",
        "    set x1 [expr {$llx + ($k + 1) * $width}]",
        "    createInstGroup $group -fence $x0 $lly $x1 $ury",
        "    foreach pattern $patterns { addInstToInstGroup $group $pattern }",
        "    incr k",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
