"""The README's main command, run the way a new user runs it: `scripts/flow` from the
repository root with a relative output folder (a short setting keeps CI in budget)."""

import json
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["train", "image", "hls", "csim", "rtl", "tmr", "seu-rate", "verify rtl", "verify rtl_tmr", "report"]


@pytest.mark.slow
def test_scripts_flow_from_the_repository_root():
    out = Path("build") / "test-flow"  # relative, as `build/flow` is by default
    shutil.rmtree(ROOT / out, ignore_errors=True)
    try:
        proc = subprocess.run(["scripts/flow", "--out", str(out), "--epochs", "2", "--modules", "3000",
                               "--eval-modules", "300"], cwd=ROOT, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        tail = proc.stderr[-4000:]
        assert proc.returncode == 0, tail
        assert "Traceback" not in proc.stderr
        summary = proc.stderr[proc.stderr.index(f"[flow] summary of {out}"):]
        for stage in STAGES:
            assert any(line.split()[:len(stage.split()) + 1] == [*stage.split(), "ok"]
                       for line in summary.splitlines()), f"stage {stage!r} not ok in:\n{summary}"
        assert f"[flow] PASSED: every artefact is in {out}" in summary
        for rtl in ("rtl", "rtl_tmr"):  # the hardened ae_top too, at the default size
            line = rf"verify {rtl} +ok +\d+s +[1-9]\d* modules streamed bit-exact"
            assert re.search(line, summary), summary
        manifest = json.loads((ROOT / out / "manifest.json").read_text())
        assert manifest["kind"] == "flow" and manifest["status"] == "passed"
        assert [s["stage"] for s in manifest["stages"]] == STAGES
        assert all(s["ok"] for s in manifest["stages"])
        assert "0 mismatches" in manifest["stages"][3]["result"]
        assert "seu_rate.md" in manifest["files"] and "rtl_tmr/tmr_report.json" in manifest["files"]
        report = (ROOT / out / "report" / "report.md").read_text()
        assert "## Flow stages" in report and "| verify rtl_tmr | passed |" in report
        assert not [p for p in (ROOT / "build").iterdir() if p.name.startswith(".test-flow")]
        assert "staging" not in report and "staging" not in proc.stderr
        for written in ("manifest.json", "seu_rate.md", "rtl/ae_top.sv", "train/manifest.json"):
            assert "staging" not in (ROOT / out / written).read_text(), f"{written} names the staging folder"
        _reproduce_commands_run_as_printed(report, out)
        _daily_jobs_take_the_flow_folder(out)
    finally:
        shutil.rmtree(ROOT / out, ignore_errors=True)


def _asicgen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "asicgen"), *args], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def _reproduce_commands_run_as_printed(report: str, out: Path) -> None:
    """The quick commands of the report's Reproduce list, copied and run from where the flow ran."""
    listed = re.findall(r"^\* (.+?): `(asicgen [^`]+)`$", report.split("## Reproduce")[1], re.MULTILINE)
    commands = dict(listed)
    flow = f"asicgen flow --out {out} --epochs 2 --modules 3000 --eval-modules 300"
    assert commands["the whole flow"] == flow
    assert commands["an IP of these weights"] == f"asicgen generate {out}/train --out ip --tmr"
    quick = [c for c in commands.values() if c.split()[1] in ("report", "seu-rate")]
    assert len(quick) == 2, commands
    for command in quick:
        words = shlex.split(command)
        made = ROOT / words[words.index("--out") + 1] if "--out" in words else None
        assert made is None or not made.exists(), f"{made} exists: the test would not know what it wrote"
        try:
            proc = _asicgen(*words[1:])
            assert proc.returncode == 0, f"{command}:\n{proc.stderr[-2000:]}"
        finally:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)


def _daily_jobs_take_the_flow_folder(out: Path) -> None:
    """The three daily jobs and the upset rates, each on the main job's folder as it is."""
    with tempfile.TemporaryDirectory(prefix="asicgen-daily-") as tmp:
        proc = _asicgen("seu-rate", str(out))
        assert proc.returncode == 0 and "uncorrectable" in proc.stdout, proc.stderr[-2000:]
        proc = _asicgen("regress", str(out), "--out", f"{tmp}/regress", "-n", "2", "--modules", "4",
                        "--fuzz-events", "100")
        assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
        proc = _asicgen("region", "retrain", "--ip", str(out), "--region", "ceh_front",
                        "--out", f"{tmp}/r", "--epochs", "2", "--modules", "3000", "--eval-modules", "300",
                        "--stream-modules", "20")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "20 modules streamed bit-exact by the IP's untouched RTL" in proc.stderr
