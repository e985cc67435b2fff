"""Install benchmark: installs asicgen into a fresh virtual environment and measures it.

Two configurations:

* `after`: the current working tree (pyproject.toml + requirements.lock), installed
  with the commands scripts/env.sh runs:
  `pip install --upgrade pip`, then `pip install -c requirements.lock -e '.[test]'`.
* `before`: the tree of git HEAD without its lock, installed from pyproject.toml alone
  (what a user who skips the lock gets): `pip install --upgrade pip`, then
  `pip install -e '.[test]'`.

Each configuration copies its source into a temporary folder, creates a virtual
environment there with the Python scripts/env.sh would pick, and runs pip with
`--no-cache-dir`, so every distribution is really downloaded. Measured: wall time
(per step and in total), bytes received over the network (the received-bytes
counters of /proc/net/dev before and after, every interface except `lo`: this counts
all traffic of the machine, not only pip's, so pip's own report of the files it
downloaded is recorded next to it), the venv's size on disk, the TensorFlow
distributions installed (`pip list`) and pip's exit code. A configuration that exceeds
the timeout is stopped and recorded as timed out with what was measured until then.

By default pip sees only pypi.org, as on a user's machine: this machine's pip
configuration (extra local indexes and find-links) is hidden from it, since files
read from a local folder never cross the network. `--indexes machine` keeps it.

Usage: python bench/run_install.py [--config before after] [--timeout-minutes N]
                                   [--indexes pypi|machine] [--keep] [--out DIR]
Results: DIR/install.json and DIR/install.md (default DIR: bench/results). A run of
one configuration keeps the other configuration's earlier results in those files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import save_results, say  # noqa: E402

CONFIGS = ("after", "before")
PROGRESS_SECONDS = 60
# Environment variables through which pip could read another index, local files or a
# configuration: dropped with --indexes pypi.
PIP_INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
                       "PIP_CONSTRAINT", "PIP_REQUIREMENT", "PIP_CONFIG_FILE", "PIP_NO_CACHE_DIR")
DOWNLOAD_LINE = re.compile(r"^\s*Downloading (\S+)(?: \(([\d.]+) (bytes|kB|MB|GB)\))?")
UNITS = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
TENSORFLOW_FAMILY = re.compile(r"^(tensorflow.*|tf[-_]keras|keras|tensorboard.*)$")


# ----------------------------------------------------------------------------------
# Measurements


def received_bytes() -> dict[str, int]:
    """Received-bytes counter of every network interface except `lo` (/proc/net/dev)."""
    counters = {}
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, _, fields = line.partition(":")
        name = name.strip()
        if name and name != "lo":
            counters[name] = int(fields.split()[0])
    return counters


def received_since(start: dict[str, int]) -> dict[str, int]:
    now = received_bytes()
    return {name: now[name] - start.get(name, 0) for name in now}


def disk_usage(path: Path) -> dict[str, int]:
    """Bytes on disk (allocated blocks, each inode once, like `du -s`) and apparent size."""
    seen: set[tuple[int, int]] = set()
    on_disk = apparent = files = 0
    for folder, dirs, names in os.walk(path):
        for name in dirs + names:
            try:
                st = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            on_disk += st.st_blocks * 512
            apparent += st.st_size
            files += name in names
    return {"bytes_on_disk": on_disk, "apparent_bytes": apparent, "files": files}


def pip_downloads(log: Path) -> dict:
    """What pip says it downloaded: distribution files (wheels, sdists) and metadata files."""
    files: list[dict] = []
    metadata = 0
    metadata_bytes = 0.0
    backtracking = 0
    for line in log.read_text(errors="replace").splitlines():
        if "pip is looking at multiple versions of" in line:
            backtracking += 1
        match = DOWNLOAD_LINE.match(line)
        if not match:
            continue
        name = match.group(1).rsplit("/", 1)[-1]
        size = float(match.group(2)) * UNITS[match.group(3)] if match.group(2) else None
        if name.endswith(".metadata"):
            metadata += 1
            metadata_bytes += size or 0
        else:
            files.append({"file": name, "bytes": None if size is None else round(size)})
    tensorflow = [f for f in files if re.match(r"(tensorflow|tf_keras)", f["file"], re.IGNORECASE)]
    return {
        "files": len(files),
        "bytes": sum(f["bytes"] or 0 for f in files),
        "metadata_files": metadata,
        "metadata_bytes": round(metadata_bytes),
        "tensorflow_files": tensorflow,
        "tensorflow_bytes": sum(f["bytes"] or 0 for f in tensorflow),
        "backtracking_messages": backtracking,
        "all_files": files,
    }


def installed(python: Path, env: dict[str, str]) -> dict:
    """`pip list` of the venv: the TensorFlow family and the number of distributions."""
    run = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], env=env,
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        return {"pip_list_failed": run.stderr.strip()[-500:]}
    packages = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(run.stdout)}
    family = {n: v for n, v in sorted(packages.items()) if TENSORFLOW_FAMILY.match(n)}
    return {"distributions": len(packages), "tensorflow_family": family,
            "tensorflow": packages.get("tensorflow"), "tensorflow_cpu": packages.get("tensorflow-cpu"),
            "tf_keras": packages.get("tf-keras"),
            "both_tensorflow_and_tensorflow_cpu": "tensorflow" in packages
            and "tensorflow-cpu" in packages,
            "pip": packages.get("pip")}


# ----------------------------------------------------------------------------------
# Setting up a configuration


def pick_python() -> str:
    """The interpreter scripts/env.sh picks: python3.11, python3.10 or python3 (3.10-3.11)."""
    check = "import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)"
    for candidate in ("python3.11", "python3.10", "python3"):
        path = shutil.which(candidate)
        if path and subprocess.run([path, "-c", check]).returncode == 0:
            return path
    raise SystemExit("error: asicgen needs Python 3.10 or 3.11 on PATH")


def copy_working_tree(dest: Path) -> None:
    """Tracked and untracked, not ignored files of the checkout, as they are now."""
    listing = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
    for rel in sorted(set(listing.decode().split("\0")) - {""}):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def export_head(dest: Path) -> None:
    """The tree of git HEAD (old pyproject.toml, no requirements.lock)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def commands(config: str, python: Path, src: Path) -> list[list[str]]:
    """The pip commands scripts/env.sh runs (now, or at HEAD for `before`), with --no-cache-dir."""
    pip = [str(python), "-m", "pip", "install", "--no-cache-dir"]
    if config == "after":
        install = pip + ["-c", str(src / "requirements.lock"), "-e", f"{src}[test]"]
    else:
        install = pip + ["-e", f"{src}[test]"]
    return [pip + ["--upgrade", "pip"], install]


def pip_environment(indexes: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp)  # pip's unpacked downloads go away with the benchmark's folder
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if indexes == "pypi":
        for name in PIP_INDEX_VARIABLES:
            env.pop(name, None)
        env["PIP_CONFIG_FILE"] = os.devnull  # no configuration file at all
    return env


# ----------------------------------------------------------------------------------
# Running a configuration


def run_step(cmd: list[str], log: Path, env: dict[str, str], deadline: float, label: str,
             net_start: dict[str, int], started: float) -> tuple[int | None, float]:
    """Run one command (own process group) into LOG; (exit code or None if stopped, seconds)."""
    begin = time.perf_counter()
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stop(proc)
            return None, time.perf_counter() - begin
        try:
            code = proc.wait(timeout=min(PROGRESS_SECONDS, remaining))
            return code, time.perf_counter() - begin
        except subprocess.TimeoutExpired:
            net = sum(received_since(net_start).values())
            say(f"{label}: {time.perf_counter() - started:.0f} s, {net / 1e9:.2f} GB received; "
                f"pip: {last_line(log)}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group of PROC (which this script started), SIGKILL after 30 s."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:150] if lines else "-"


def run_config(config: str, timeout_s: float, indexes: str, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"asicgen-install-{config}-"))
    say(f"{config}: working in {tmp}")
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "timeout_minutes": timeout_s / 60,
                    "indexes": indexes, "niceness": os.nice(0), "cpu_cores": os.cpu_count(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        src = tmp / "src"
        if config == "after":
            copy_working_tree(src)
            result["source"] = "working tree (pyproject.toml + requirements.lock)"
        else:
            export_head(src)
            result["source"] = "git HEAD (git archive): old pyproject.toml, no lock"
        result["requirements_lock"] = (src / "requirements.lock").is_file()
        pip_tmp = tmp / "pip-tmp"
        pip_tmp.mkdir()
        env = pip_environment(indexes, pip_tmp)
        log = tmp / "pip.log"
        log.touch()
        venv = tmp / "venv"
        python = venv / "bin" / "python"
        base = pick_python()
        steps = [("venv", [base, "-m", "venv", str(venv)])]
        steps += list(zip(("pip_upgrade", "install"), commands(config, python, src), strict=True))
        result["commands"] = [" ".join(cmd).replace(str(tmp), "$TMP") for _, cmd in steps]

        net_start = received_bytes()
        started = time.perf_counter()
        deadline = started + timeout_s
        result["step_seconds"] = {}
        result["exit_code"] = None
        result["failed_step"] = None
        for step, cmd in steps:
            say(f"{config}: {step}: {' '.join(cmd).replace(str(tmp), '$TMP')}")
            code, seconds = run_step(cmd, log, env, deadline, config, net_start, started)
            result["step_seconds"][step] = round(seconds, 1)
            result["exit_code"] = code
            if code != 0:
                result["failed_step"] = step
                break
        wall = time.perf_counter() - started
        per_interface = received_since(net_start)

        result["timed_out"] = result["exit_code"] is None
        result["wall_seconds"] = round(wall, 1)
        result["received_bytes"] = sum(per_interface.values())
        result["received_bytes_per_interface"] = per_interface
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        result["pip_downloads"] = pip_downloads(log)
        result["venv"] = disk_usage(venv)
        result["installed"] = installed(python, env) if python.exists() else {}
        if result["exit_code"] != 0:
            result["log_tail"] = log.read_text(errors="replace").splitlines()[-25:]
        say(f"{config}: {summary(result)}")
    finally:
        if keep:
            say(f"{config}: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            say(f"{config}: deleted {tmp}")
    return result


# ----------------------------------------------------------------------------------
# Report


def gb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1e9:.2f} GB"


def outcome(r: dict) -> str:
    if r["timed_out"]:
        return f"stopped after the {r['timeout_minutes']:g}-minute timeout"
    if r["exit_code"] == 0:
        return "pip exit code 0"
    return f"pip exit code {r['exit_code']} (step {r['failed_step']})"


def tensorflow_text(r: dict) -> str:
    family = r.get("installed", {}).get("tensorflow_family") or {}
    core = {n: v for n, v in family.items() if n in ("tensorflow", "tensorflow-cpu", "tf-keras", "keras")}
    return ", ".join(f"{n} {v}" for n, v in core.items()) or "none"


def summary(r: dict) -> str:
    return (f"{outcome(r)}, {r['wall_seconds']} s, {gb(r['received_bytes'])} received "
            f"(pip: {gb(r['pip_downloads']['bytes'])} in {r['pip_downloads']['files']} files), "
            f"venv {gb(r['venv']['bytes_on_disk'])}, TensorFlow: {tensorflow_text(r)}")


def markdown(results: dict) -> str:
    configs = [c for c in CONFIGS if c in results["configs"]]
    rs = [results["configs"][c] for c in configs]
    row = lambda label, fn: f"| {label} | " + " | ".join(fn(r) for r in rs) + " |"  # noqa: E731
    lines = ["# Installing asicgen into a fresh virtual environment", "",
             "`after`: the working tree, `pip install -c requirements.lock -e '.[test]'` (scripts/env.sh "
             "now). `before`: git HEAD's pyproject.toml alone, without the lock, `pip install -e '.[test]'` "
             "(what a user who skips the lock gets). Both first run `pip install --upgrade pip`, both with "
             "`--no-cache-dir`, in a new venv in a temporary folder (deleted afterwards).", "",
             "| | " + " | ".join(f"`{c}`" for c in configs) + " |",
             "|---|" + "---|" * len(configs),
             row("measured", lambda r: r["date"]),
             row("outcome", outcome),
             row("wall time", lambda r: f"{r['wall_seconds']:.0f} s"),
             row("  of which venv / pip upgrade / install", lambda r: " / ".join(
                 f"{r['step_seconds'].get(s, '-')}" for s in ("venv", "pip_upgrade", "install")) + " s"),
             row("received over the network (all interfaces but `lo`)", lambda r: gb(r["received_bytes"])),
             row("downloaded according to pip (files)", lambda r: f"{gb(r['pip_downloads']['bytes'])} "
                 f"({r['pip_downloads']['files']})"),
             row("  of which TensorFlow / tf-keras wheels (files)", lambda r:
                 f"{gb(r['pip_downloads']['tensorflow_bytes'])} "
                 f"({len(r['pip_downloads']['tensorflow_files'])})"),
             row("metadata files fetched", lambda r: str(r["pip_downloads"]["metadata_files"])),
             row("pip's \"looking at multiple versions\" notices (backtracking)",
                 lambda r: str(r["pip_downloads"]["backtracking_messages"])),
             row("venv size on disk", lambda r: gb(r["venv"]["bytes_on_disk"])),
             row("distributions installed", lambda r: str(r.get("installed", {}).get("distributions", "-"))),
             row("TensorFlow installed", tensorflow_text),
             row("both `tensorflow` and `tensorflow-cpu`", lambda r: str(
                 r.get("installed", {}).get("both_tensorflow_and_tensorflow_cpu", "-"))),
             row("TensorFlow family (`pip list`)", lambda r: ", ".join(
                 f"{n} {v}" for n, v in (r.get("installed", {}).get("tensorflow_family") or {}).items())
                 or "none"),
             row("pip indexes", lambda r: "pypi.org only" if r["indexes"] == "pypi"
                 else "this machine's pip configuration"),
             row("niceness / load average start, end", lambda r: f"{r['niceness']} / "
                 f"{r['load_average_at_start'][0]}, {r['load_average_at_end'][0]}"),
             "",
             "## How to read it", "",
             "* Network bytes: the received-bytes counters of /proc/net/dev, summed over every "
             "interface except `lo`, read before the venv is created and after the install ends. They "
             "count everything the machine received meanwhile, not only pip's downloads; pip's own "
             "report (the `Downloading <file> (<size>)` lines of its output) is the figure attributable "
             "to pip.",
             "* Other processes (other engineers' builds and tests) shared the machine's "
             f"{rs[0]['cpu_cores']} CPU cores and its network during these runs: wall times depend on "
             "that load (see the load averages) and on the download speed at the time.",
             "* With `pip indexes` = pypi.org only, this machine's pip configuration (a local index and "
             "find-links folder of pre-downloaded wheels) was hidden from pip, so every file came over "
             "the network as it would for a user.",
             "* Venv size: allocated blocks of every file once (like `du -s`).", ""]
    for c, r in zip(configs, rs, strict=True):
        tf_files = r["pip_downloads"]["tensorflow_files"]
        if tf_files:
            lines += [f"## TensorFlow / tf-keras files pip downloaded (`{c}`)", ""]
            lines += [f"* {f['file']} ({gb(f['bytes'])})" for f in tf_files]
            lines.append("")
        if r.get("log_tail"):
            lines += [f"## End of pip's output (`{c}`)", "", "```", *r["log_tail"], "```", ""]
    lines += ["## Commands", ""]
    for c, r in zip(configs, rs, strict=True):
        lines += [f"`{c}` ($TMP: the temporary folder):", "", "```", *r["commands"], "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                        help="configurations to run, in this order (default: after before)")
    parser.add_argument("--timeout-minutes", type=float, default=60,
                        help="stop a configuration after this long (default 60)")
    parser.add_argument("--indexes", choices=("pypi", "machine"), default="pypi",
                        help="pypi: hide this machine's pip configuration (default); "
                             "machine: use it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    out = Path(args.out)

    previous = out / "install.json"
    results: dict = {"configs": {}}
    if previous.is_file():
        results = json.loads(previous.read_text())
    say("network traffic is read from /proc/net/dev: received bytes of every interface except lo "
        "(all of the machine's traffic, not only pip's)")
    for config in args.config:
        results["configs"][config] = run_config(config, args.timeout_minutes * 60, args.indexes,
                                                args.keep)
        text = markdown(results)
        save_results(out, "install", results, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
