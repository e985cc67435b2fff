"""`asicgen seu-rate`: the upset-rate figures (`tmr.rate`) of a TMR report, found in a
*.tmr.json file, an rtl_tmr folder or an IP, written as Markdown or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from asicgen.core.artefacts import HardenedRtl, Ip
from asicgen.core.atomic import write_text
from asicgen.core.outputs import check_file_output
from asicgen.core.raw import ConfigError
from asicgen.core.render import is_generated
from asicgen.tmr_command import json_format
from tmr.rate import (
    FIGURES_FORMAT,
    Environment,
    figures,
    figures_markdown,
    figures_raw,
    load_inventory,
    stamped_markdown,
    summary_line,
)


def _tmr_report_file(source: Path) -> Path:
    """The TMR report of a *.tmr.json file, an rtl_tmr folder, or an IP holding one."""
    if source.is_file():
        return source
    if not source.is_dir():
        raise ConfigError(f"{source}: no such folder or file")
    hardened = HardenedRtl.find(source)
    if hardened is None:
        ip = Ip.find(source)
        hardened = ip.hardened if ip is not None else None
    if hardened is not None:
        return hardened.tmr_report
    raise ConfigError(f"{source} holds no tmr_report.json: write one with `asicgen generate SOURCE --out OUT "
                      "--tmr` (OUT/rtl_tmr/tmr_report.json), or `asicgen tmr IN.v -o OUT.v` (OUT.tmr.json)")


def _is_seu_rate_output(path: Path) -> bool:
    return json_format(path) == FIGURES_FORMAT if path.suffix == ".json" else is_generated(path)


def seu_rate_command(source: Path, out: str | None, env: Environment, command: str) -> None:
    """`asicgen seu-rate`: expected upsets per hour, plain and hardened, and the uncorrectable rate,
    per error class, of the TMR report in `source`; to `out` (.md or .json) or stdout."""
    report = _tmr_report_file(Path(source))
    path = _seu_rate_output(out, report)
    fig = figures(load_inventory(report), env)
    text = _seu_rate_text(fig, report, command, path)
    if path is None:
        print(text, end="")
    else:
        write_text(path, text)
    print(f"{fig.design}: {summary_line(fig)}" + (f"; wrote {out}" if path else ""), file=sys.stderr)


def _seu_rate_output(path: str | None, report: Path) -> Path | None:
    """The checked --out file (.md or .json), or None for stdout."""
    if path is None:
        return None
    if Path(path).suffix not in (".md", ".json"):
        raise ConfigError(f"--out {path}: give a .md or .json file name")
    return check_file_output(Path(path), "rate report", _is_seu_rate_output, inputs=[report])


def _seu_rate_text(fig, report: Path, command: str, out: Path | None) -> str:
    """The figures as JSON for a .json output, else Markdown (stamped when written to a file)."""
    if out is None:
        return figures_markdown(fig)
    if out.suffix == ".json":
        return json.dumps(figures_raw(fig, {"source": str(report), "command": command}), indent=1) + "\n"
    return stamped_markdown(fig, report, command, out.name)
