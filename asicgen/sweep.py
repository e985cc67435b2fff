"""Sweeps: many detector regions (and optionally several IPs or losses) retrained and verified
as tasks on Dask distributed: `asicgen sweep SWEEP.toml`.

Each task is one `asicgen region retrain` (asicgen.region.retrain) into its own folder with
its own log; tasks run on a local cluster by default, on an existing scheduler, or on a
batch system (HTCondor, Slurm) through dask-jobqueue. A task that fails is reported with
its region and its log, the others finish; the results are gathered into one summary
(`summary.md`, `summary.json`).

The sweep file (TOML; paths relative to it):

    [sweep]
    ip = "chip_ip"                      # or ips = ["ip_ii1", "ip_ii4"]: the IPs written by generate
    regions = ["ceh_front", "cee_mid", "my_region.toml"]
    losses = ["telescope", "mse"]       # optional (default: each region's own)
    stream_modules = 300                # optional: modules streamed per task after programming

    [training]                          # optional, for every task
    epochs = 80
    modules = 60000
    seed = 1
    eval_modules = 20000

    [cluster]                           # optional: the table asicgen.cluster describes
    kind = "local"                      # default: a local cluster, one worker per core
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from distributed import as_completed

from asicgen.cluster import Cluster, make_client
from asicgen.core.artefacts import ArtefactError, Ip, TrainRun
from asicgen.core.atomic import write_text
from asicgen.core.outputs import check_folder_output, staged_folder, write_manifest
from asicgen.core.raw import ConfigError, check_keys, get_int, load_config_file
from asicgen.region import retrain

SWEEP_KIND = "sweep"
TRAINING_KEYS = ("epochs", "modules", "seed", "eval_modules")


@dataclass(frozen=True)
class Task:
    name: str
    ip: str
    region: str
    loss: str | None
    overrides: dict[str, Any]
    stream_modules: int


@dataclass(frozen=True)
class Sweep:
    tasks: tuple[Task, ...]
    cluster: Cluster


def _task_name(ip: Path, region: str, loss: str | None, several_ips: bool) -> str:
    name = Path(region).stem if Path(region).suffix else region
    parts = [ip.name] if several_ips else []
    parts += [name] + ([loss] if loss else [])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))


def load_sweep(path: Path) -> Sweep:
    raw = check_keys(load_config_file(path), str(path), {"sweep"}, {"training", "cluster"})
    where = f"{path}: sweep"
    sweep = check_keys(raw["sweep"], where, {"regions"}, {"ip", "ips", "losses", "stream_modules"})
    if ("ip" in sweep) == ("ips" in sweep):
        raise ConfigError(f"{where}: give either ip = \"FOLDER\" or ips = [\"FOLDER\", ...]")
    base = path.parent
    ips = [sweep["ip"]] if "ip" in sweep else sweep["ips"]
    regions, losses = sweep["regions"], sweep.get("losses", [None])
    for key, values in (("ips", ips), ("regions", regions), ("losses", losses)):
        strings = isinstance(values, list) and all(isinstance(v, str) or v is None for v in values)
        if not strings or not values:
            raise ConfigError(f"{where}.{key}: expected a non-empty list of strings")
    if any(loss not in (None, "telescope", "mse") for loss in losses):
        raise ConfigError(f"{where}.losses: each one of telescope, mse")
    ip_paths = [base / ip for ip in ips]
    for ip in ip_paths:
        try:
            Ip.open(ip)
        except ArtefactError as err:
            raise ConfigError(f"{where}: {err}") from None
    region_args = [str(base / r) if Path(r).suffix else r for r in regions]
    training = check_keys(raw.get("training", {}), f"{path}: training", set(), set(TRAINING_KEYS))
    overrides = {k: get_int(training, k, f"{path}: training", lo=1 if k != "seed" else 0) for k in training}
    stream = get_int(sweep, "stream_modules", where, 300, lo=1)
    several = len(ip_paths) > 1
    tasks = tuple(Task(_task_name(ip, region, loss, several), str(ip), region, loss, overrides, stream)
                  for ip in ip_paths for region in region_args for loss in losses)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: two tasks would share a folder name ({', '.join(names)})")
    return Sweep(tasks, Cluster.from_raw(raw.get("cluster", {}), f"{path}: cluster"))


# -- one task (runs on a Dask worker) ----------------------------------------------------------


def run_task(task: Task, folder: str) -> dict[str, Any]:
    """Retrain one region for one IP into `folder`/`task.name`, its log in `folder`/`task.name`.log.
    Never raises: a failure comes back as a result with the error and the log's path."""
    out = Path(folder) / task.name
    log_path = Path(folder) / f"{task.name}.log"
    t0 = time.perf_counter()
    result: dict[str, Any] = {"task": task.name, "region": task.region, "ip": task.ip, "loss": task.loss,
                              "log": str(log_path)}
    overrides = {**task.overrides, **({"loss": task.loss} if task.loss else {})}
    with log_path.open("w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            outcome = retrain(Path(task.ip), task.region, out, overrides, f"asicgen sweep (task {task.name})",
                              stream=log, modules_per_region=task.stream_modules)
            metrics = TrainRun.open(out / "train").metrics()
            result.update(status="passed" if outcome.passed else "failed", result=outcome.summary,
                          median_emd=metrics.median_emd, elinks=metrics.elinks)
        except Exception as err:  # noqa: BLE001 - a task's failure is its result, the sweep goes on
            traceback.print_exc(file=log)
            result.update(status="error", result=f"{type(err).__name__}: {err}")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


@dataclass(frozen=True)
class SweepResult:
    results: tuple[dict[str, Any], ...]

    @property
    def passed(self) -> bool:
        return all(r["status"] == "passed" for r in self.results)


def run_sweep(sweep_file: Path, out: Path, command: str, force: bool = False,
              log: TextIO | None = None) -> SweepResult:
    stream = log if log is not None else sys.stderr
    sweep = load_sweep(sweep_file)
    out = check_folder_output(out, SWEEP_KIND, force=force, inputs=[sweep_file])
    print(f"[sweep] {len(sweep.tasks)} tasks on a {sweep.cluster.kind} Dask cluster -> {out}", file=stream)
    with staged_folder(out, SWEEP_KIND, force=force, keep_on_error=True) as stage:
        client = make_client(sweep.cluster)
        try:
            futures = [client.submit(run_task, task, str(stage), key=f"asicgen-{task.name}", pure=False)
                       for task in sweep.tasks]
            results = []
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                results.append(result)
                print(f"[sweep] {done}/{len(futures)} {result['task']}: {result['status']} "
                      f"({result['seconds']:.0f} s) {result['result']}", file=stream)
        finally:
            client.close()
        results.sort(key=lambda r: [t.name for t in sweep.tasks].index(r["task"]))
        for r in results:  # the logs are read where the folder will be
            r["log"] = str(out / Path(r["log"]).name)
        summary = json.dumps({"command": command, "tasks": results}, indent=1) + "\n"
        write_text(stage / "summary.json", summary)
        write_text(stage / "summary.md", summary_markdown(results, command))
        write_manifest(stage, SWEEP_KIND, {"command": command, "passed": all(r["status"] == "passed"
                                                                             for r in results)})
    return SweepResult(tuple(results))


def summary_markdown(results: list[dict[str, Any]], command: str) -> str:
    lines = [f"<!--\nGenerated by asicgen -- regenerate with: {command}\n-->", "# Sweep summary", "",
             "| task | region | IP | loss | status | median EMD | time | result |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        emd = f"{r['median_emd']:.4f}" if "median_emd" in r else "-"
        lines.append(f"| {r['task']} | {r['region']} | {Path(r['ip']).name} | {r['loss'] or 'default'} | "
                     f"{r['status']} | {emd} | {r['seconds']:.0f} s | {r['result']} |")
    failed = [r for r in results if r["status"] != "passed"]
    lines += ["", f"{len(results) - len(failed)} of {len(results)} tasks passed."]
    lines += [f"* {r['task']} ({r['region']}): {r['status']}, log {r['log']}" for r in failed]
    return "\n".join(lines) + "\n"

