"""`asicgen tmr`: harden Verilog/SystemVerilog files with the TMR pass, writing the hardened
file and its report beside it under the output policy of `asicgen.core.outputs`."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from asicgen.core.naming import TMR_POLICY_FILE
from asicgen.core.outputs import check_file_output
from asicgen.core.raw import ConfigError
from asicgen.core.render import Stamp, is_generated
from tmr.flow import REPORT_FORMAT, harden_sources, write_hardened
from tmr.policy import Policy


def _tmr_policy(path: str | None, sources: list[Path]):
    """The policy file given, else the one beside the first source (generated RTL has its own),
    else the default: every register triplicated, the flags on a new error port."""
    beside = sources[0].parent / TMR_POLICY_FILE
    chosen = Path(path) if path else beside if beside.is_file() else None
    if chosen is None:
        default = Policy.from_raw({}, "default policy")
        # worded without "error": on a failure, the error line stays the only one saying it
        print(f"policy: the default (every register triplicated, voters' flags on a new output port "
              f"{default.error_port})", file=sys.stderr)
        return default
    print(f"policy: {chosen}", file=sys.stderr)
    return Policy.load(chosen)


def harden_files(sources: Sequence[Path], output: Path, command: str, policy_file: str | None = None,
                 full_scheme: str | None = None, top: str | None = None) -> None:
    """`asicgen tmr`: triplicate the registers of synthesisable Verilog/SystemVerilog `sources`
    into `output`, with its TMR report beside it (.tmr.md, .tmr.json)."""

    sources = [Path(s) for s in sources]
    for source in sources:
        if not source.is_file():
            raise ConfigError(f"{source}: no such file")
    out = check_file_output(Path(output), "hardened Verilog", is_generated, inputs=sources, option="-o")
    check_file_output(out.with_suffix(".tmr.md"), "TMR report", _is_tmr_report, inputs=sources, option="-o")
    check_file_output(out.with_suffix(".tmr.json"), "TMR report", _is_tmr_report_json, inputs=sources,
                      option="-o")
    t0 = time.perf_counter()
    policy = _tmr_policy(policy_file, sources)
    if full_scheme:
        policy = policy.with_full_scheme(full_scheme)
    print(f"hardening {', '.join(map(str, sources))} with yosys...", file=sys.stderr)
    hardened = harden_sources(sources, policy, top)
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()
    stamp = Stamp(f"TMR of {hardened.top} from {', '.join(map(str, sources))}", digest, command)
    write_hardened(hardened, out, stamp.header(out.name))
    r = hardened.report
    print(f"hardened {hardened.top}: {len(r.triplicated)} registers ({r.protected_bits} bits) triplicated, "
          f"{r.voters} voters, flip-flop bits {r.bits_before} -> {r.bits_after}; {hardened.proof.line()}; in "
          f"{time.perf_counter() - t0:.1f}s; wrote {output}, {out.with_suffix('.tmr.md').name} and "
          f"{out.with_suffix('.tmr.json').name}",
          file=sys.stderr)


def _is_tmr_report(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(64).startswith(b"# TMR report:")


def _is_tmr_report_json(path: Path) -> bool:
    return json_format(path) == REPORT_FORMAT


def json_format(path: Path) -> object:
    """The `format` field of a JSON file asicgen wrote, or None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("format") if isinstance(data, dict) else None
