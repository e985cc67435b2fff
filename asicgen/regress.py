"""`asicgen regress`: the cocotb regressions of an IP as it is (`verif.regress_suite`), run by
pytest with pytest-xdist workers and JUnit XML into a results folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from asicgen.core.artefacts import Ip
from asicgen.core.outputs import REGRESS_KIND, staged_folder, write_manifest
from verif import regress_suite


@dataclass(frozen=True)
class RegressOptions:
    #: pytest-xdist workers ("auto": one per core)
    jobs: str = "auto"
    #: modules streamed per region preset
    modules: int = 150
    #: random I2C bus events of the fuzz test
    fuzz_events: int = 1500


def run_regress(ip_dir: Path, out: Path, options: RegressOptions, command: str, force: bool = False) -> bool:
    """Run the regressions of the IP in `ip_dir` into `out`; True when every test passed."""
    ip = Ip.open(ip_dir)
    ip.require_image()
    hardened = " and hardened" if ip.hardened is not None else ""
    print(f"[regress] {ip.design.summary()} in {ip_dir}: file hashes, streaming (plain{hardened}), I2C "
          f"directed and fuzz tests -> {out}", file=sys.stderr)
    with staged_folder(out, REGRESS_KIND, force=force) as stage:
        junit = stage / "junit.xml"
        suite = Path(regress_suite.__file__)
        pytest = [sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "-o", "addopts=",
                  "--rootdir", str(suite.parent), "-n", options.jobs, f"--junitxml={junit}", "-rA"]
        env = {**os.environ, regress_suite.IP_ENV: str(Path(ip_dir).resolve()),
               regress_suite.BUILD_ENV: str(stage / "build"), regress_suite.MODULES_ENV: str(options.modules),
               regress_suite.FUZZ_ENV: str(options.fuzz_events)}
        code = subprocess.run(pytest, env=env, check=False).returncode
        write_manifest(stage, REGRESS_KIND, {"ip": str(ip_dir), "design": ip.design.to_raw(),
                                             "pytest_exit": code, "command": command})
    verdict = "passed" if code == 0 else f"FAILED (pytest exit {code})"
    print(f"[regress] {verdict}; JUnit XML: {Path(out) / 'junit.xml'}", file=sys.stderr)
    return code == 0
