"""Gate-level simulation of the netlists `asicgen synth --liberty` writes: the netlist with
cell models written from the library's Liberty (asicgen.cell_models), proven equal to it
before use, under cocotb + Verilator."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from asicgen.cell_models import CHECK_FILE, CHECK_TOP, check_config, check_netlist_cells, harness_verilog
from asicgen.cluster import Cluster, make_client
from asicgen.core.atomic import write_text
from asicgen.core.naming import TOP
from asicgen.core.outputs import GATESIM_KIND, staged_folder, write_manifest
from asicgen.core.weights import WeightSet
from asicgen.gate_faults import GATE_SCL_HZ, FaultCampaign, run_fault_campaign
from asicgen.gate_netlist import hierarchy, inline_netlist
from asicgen.gate_power import NetPower, measure_activity, net_power, power_line, write_activity
from asicgen.liberty import Library, read_library
from asicgen.sources import load_network
from asicgen.synth import MappedNetlist, mapped_netlists
from training.regions import preset_names
from verif.flow_check import WRAPPER, top_wrapper_parameters
from verif.runner import Public, SimResult, run_cocotb
from verif.vectors import region_vectors

#: random steps of the sequential cells in the proof (every cell changes state many times)
SEQUENTIAL_STEPS = 20_000


class GateSimError(RuntimeError):
    """The cell models or the gate-level simulation failed."""


#: the proof harness with its cells written in place, and a netlist's
INLINE_CHECK_FILE = "cell_check_inline.sv"
INLINE_NETLIST_FILE = "netlist_inline.v"


@dataclass(frozen=True)
class ProvenModels:
    """The proof that the cells `asicgen.gate_netlist` writes in place equal the library's
    Liberty: the harness it was run on, and the run."""

    path: Path
    library: str
    result: SimResult


def prove_models(library: Library, build: Path, seed: int = 1,
                 sequential_steps: int = SEQUENTIAL_STEPS) -> ProvenModels:
    """Write the proof harness of `library` (one instance of every cell, and chains of
    flip-flops), write its cells in place as a netlist's are, and prove the result against the
    Liberty (verif/tb_cells.py); GateSimError unless every test passes."""
    build = Path(build)
    harness = build / CHECK_FILE
    write_text(harness, harness_verilog(library))
    inlined = inline_netlist(harness, library, build / INLINE_CHECK_FILE).path
    result = run_proof(inlined, library, build / "proof", seed, sequential_steps)
    if result.tests == 0 or result.failed:
        raise GateSimError(f"the cells of {library.name} written in place differ from its Liberty: "
                           f"{result.failed} of {result.tests} proof tests failed; see "
                           f"{result.results_xml.parent}")
    return ProvenModels(inlined, library.name, result)


def run_proof(harness: Path, library: Library, build: Path, seed: int = 1,
              sequential_steps: int = SEQUENTIAL_STEPS) -> SimResult:
    """The proof of a proof harness of `library` (`cell_check`, any Verilog with its ports)
    against the Liberty, in `build`; the result says how many tests failed."""
    return run_cocotb(sources=[harness], toplevel=CHECK_TOP, test_module="verif.tb_cells",
                      build_dir=build, public=[Public(CHECK_TOP, "*")],
                      config={"cells": check_config(library), "seed": seed,
                              "sequential_steps": sequential_steps})


@dataclass(frozen=True)
class GateRun:
    netlist: Path
    #: cell instances written in the netlist (each module once), and with every module expanded
    cells: dict[str, int]
    flattened_cells: int
    modules: int
    result: SimResult


def simulate_netlist(netlist: Path, models: ProvenModels, library: Library, weights: WeightSet, build: Path,
                     modules: int = 200, seed: int = 23) -> GateRun:
    """Program the image into the mapped ae_top `netlist` over I2C, read it back, and stream
    `modules` region modules bit-exact against the Python model (verif/tb_gate.py), its cells
    written in place as in the proof `models`; GateSimError unless every test passes."""
    cells = check_netlist_cells(netlist, library)
    design = weights.design
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    codes = region_vectors(design, per_region=-(-modules // len(preset_names())), seed=seed).codes[:modules]
    np.savez(build / "vectors.npz", codes=codes)
    inlined = inline_netlist(netlist, library, build / INLINE_NETLIST_FILE, hierarchical=True)
    result = run_cocotb(sources=[inlined.path, WRAPPER], build_args=inlined.build_args, toplevel="tb_ae_top",
                        test_module="verif.tb_gate", build_dir=build,
                        parameters=top_wrapper_parameters(design), public=[Public("tb_ae_top", "*")],
                        config={"design": design.to_raw(), "weights": weights.words(), "scl_hz": GATE_SCL_HZ,
                                "vectors": build / "vectors.npz"})
    if result.tests == 0 or result.failed:
        raise GateSimError(f"gate-level simulation of {netlist}: {result.failed} of {result.tests} tests "
                           f"failed; see {build}")
    flattened = hierarchy(netlist, library).flattened_cells(TOP)
    return GateRun(Path(netlist), cells, flattened, len(codes), result)


# -- the command ---------------------------------------------------------------------------


def netlist_weights(netlist: MappedNetlist, source: Path | None, seed: int) -> WeightSet:
    """The weights to program: a trained network of the netlist's architecture, else random."""
    if source is None:
        return WeightSet.random(netlist.design, np.random.default_rng(seed))
    weights = load_network(Path(source), netlist.design.ii).weights
    if weights.design.arch != netlist.design.arch:
        raise GateSimError(f"--weights {source}: its architecture ({weights.design.summary()}) is not the "
                           f"netlist's ({netlist.design.summary()})")
    return weights


def summary_markdown(runs: list[GateRun], netlists: list[MappedNetlist], proven: ProvenModels,
                     command: str) -> str:
    lines = ["# Gate-level simulation", "", f"Command: `{command}`", "",
             f"Cells written in place from the {proven.library} Liberty (asicgen/gate_netlist.py), the "
             f"writer proven against it on {proven.path.name} ({proven.result.tests} tests, "
             f"{proven.result.failed} failed; build "
             f"{proven.result.build_seconds:.0f} s, run {proven.result.run_seconds:.0f} s).", "",
             "| II | build | dot products | cells (netlist, each module once) | cells (flattened) | "
             "image over I2C, read back | modules bit-exact | Verilator build (s) | simulation (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        netlist = next(n for n in netlists if n.path == run.netlist)
        lines.append(f"| {netlist.design.ii} | {netlist.build} | {netlist.dot_structure} | "
                     f"{sum(run.cells.values()):,} | {run.flattened_cells:,} | equal | {run.modules:,} | "
                     f"{run.result.build_seconds:.0f} | {run.result.run_seconds:.0f} |")
    if not runs:
        lines = lines[:-3] + ["No streaming run (`--modules 0`): the fault campaigns below program the image "
                              "over I2C and read it back themselves."]
    return "\n".join(lines) + "\n"


def campaign_markdown(campaigns: list[tuple[MappedNetlist, FaultCampaign]]) -> str:
    if not campaigns:
        return ""
    lines = ["", "## Fault campaigns", "",
             "One fault at a time while modules stream: an upset (a flip-flop cell stores its complement at "
             "an edge) or a transient (a cell output wrong at an edge), on random points of the mapped "
             "netlist's cells outside the modules it uses more than once (those, the dot products and "
             "requantisers, are stateless datapath kept whole) (asicgen/gate_faults.py). Afterwards the "
             "image is read back over I2C and a fresh stream is compared: anything a fault left wrong shows "
             "there. Shards share the faults, side by side, each reading back and streaming at its end "
             "(image bytes: the worst shard; bad outputs: every shard's).", "",
             "| II | build | points | upsets (spoiled crossings) | transients (spoiled crossings) | "
             "image bytes wrong after | bad outputs after (modules per shard) | shards | "
             "Verilator build (s) | simulation (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for netlist, c in campaigns:
        up, tr = c.per_kind["upset"], c.per_kind["transient"]
        lines.append(f"| {netlist.design.ii} | {netlist.build} | {c.points:,} | {up['faults']:,} "
                     f"({up['spoiled_faults']:,}) | {tr['faults']:,} ({tr['spoiled_faults']:,}) | "
                     f"{c.read_back_bytes_differing} | {c.clean_bad_outputs} ({c.clean_modules:,}) | "
                     f"{c.shards} | "
                     f"{c.build_seconds:.0f} | {c.run_seconds:.0f} |")
    return "\n".join(lines) + "\n"


def power_markdown(powers: list[tuple[MappedNetlist, NetPower]]) -> str:
    if not powers:
        return ""
    lines = ["", "## Power with the activity of every net", "",
             "Toggles per clock of every net while modules stream, measured in this gate-level run "
             "(asicgen/gate_power.py: two runs of one build, the second streaming, their difference), "
             "applied to each cell's OpenSTA power by linearity (P(0) + a (P(1) - P(0)), a the activity "
             "of its output net); beside it OpenSTA's power with one activity on every net, the mean of the "
             "flip-flop outputs. Zero-delay simulation: no glitches; no clock tree, no wire capacitance.",
             "",
             "| II | build | dot products | cells measured | clocks | per-net power (mW) | "
             "energy per inference (pJ) | one activity | its power (mW) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for netlist, p in powers:
        ii = netlist.design.ii
        lines.append(f"| {ii} | {netlist.build} | {netlist.dot_structure} | {p.measured_cells:,} | "
                     f"{p.activity.cycles:,} | {p.per_net.total_w * 1e3:.2f} | "
                     f"{p.energy_pj(p.per_net, ii):.1f} | "
                     f"{p.uniform.activity:.4f} | {p.uniform.total_w * 1e3:.2f} |")
    return "\n".join(lines) + "\n"


def _power(netlist: MappedNetlist, library: Library, weights: WeightSet, modules: int, seed: int,
           build: Path) -> NetPower:
    per_region = -(-modules // len(preset_names()))
    codes = region_vectors(weights.design, per_region=per_region, seed=seed).codes[:modules]
    flat, activity, _ = measure_activity(netlist.path, library, weights, codes, build)
    write_activity(build / "activity.txt", activity)
    return net_power(flat, library, activity, build / "sta")


#: the measured figures of a gatesim folder, one object per netlist
FIGURES_FILE = "gatesim.json"


@dataclass(frozen=True)
class NetlistFigures:
    """What `gatesim` measured on one netlist (gatesim.json)."""

    label: str
    ii: int
    build: str
    dot_structure: str
    cells: int
    flattened_cells: int
    modules: int
    build_seconds: float
    run_seconds: float
    #: upsets, transients, image bytes wrong after, bad outputs after, build and run seconds
    faults: dict[str, float] | None
    #: per-net and one-activity power (W), energy per inference (pJ), clocks, cells measured
    power: dict[str, float] | None

    @classmethod
    def from_raw(cls, raw: dict[str, Any], where: str) -> NetlistFigures:
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) != names:
            raise GateSimError(f"{where}: not a gatesim figures record (keys {sorted(names)})")
        return cls(**raw)


def read_figures(folder: Path) -> list[NetlistFigures]:
    path = Path(folder) / FIGURES_FILE
    if not path.is_file():
        raise GateSimError(f"{folder}: no {FIGURES_FILE}; not a folder written by `asicgen gatesim`")
    raw = json.loads(path.read_text())
    return [NetlistFigures.from_raw(r, f"{path} [{i}]") for i, r in enumerate(raw)]


def netlist_figures(runs: list[GateRun], netlists: list[MappedNetlist],
                    campaigns: list[tuple[MappedNetlist, FaultCampaign]],
                    powers: list[tuple[MappedNetlist, NetPower]]) -> list[NetlistFigures]:
    by_label_faults = {n.label: c for n, c in campaigns}
    by_label_power = {n.label: p for n, p in powers}
    figures = []
    for netlist in netlists:
        run = next((r for r in runs if r.netlist == netlist.path), None)
        c, p = by_label_faults.get(netlist.label), by_label_power.get(netlist.label)
        faults = None if c is None else {
            "upsets": c.per_kind["upset"]["faults"], "transients": c.per_kind["transient"]["faults"],
            "image_bytes_wrong_after": c.read_back_bytes_differing,
            "bad_outputs_after": c.clean_bad_outputs, "clean_modules_per_shard": c.clean_modules,
            "shards": c.shards, "build_seconds": round(c.build_seconds, 1),
            "run_seconds": round(c.run_seconds, 1)}
        power = None if p is None else {
            "per_net_w": p.per_net.total_w, "one_activity_w": p.uniform.total_w,
            "one_activity": p.uniform.activity,
            "energy_per_inference_pj": p.energy_pj(p.per_net, netlist.design.ii),
            "one_activity_energy_pj": p.energy_pj(p.uniform, netlist.design.ii),
            "clocks": p.activity.cycles, "cells_measured": p.measured_cells}
        if run is None:  # no streaming run: the netlist's cells all the same
            found = hierarchy(netlist.path, read_library(netlist.library))
            cells, flattened, modules = sum(found.cells.values()), found.flattened_cells(TOP), 0
            seconds = (0.0, 0.0)
        else:
            cells, flattened, modules = sum(run.cells.values()), run.flattened_cells, run.modules
            seconds = (round(run.result.build_seconds, 1), round(run.result.run_seconds, 1))
        figures.append(NetlistFigures(netlist.label, netlist.design.ii, netlist.build, netlist.dot_structure,
                                      cells, flattened, modules, *seconds, faults, power))
    return figures


def _gatesim_stages(stage: Path, netlists: list[MappedNetlist], library: Library,
                    programmed: dict[str, WeightSet], command: str, *, modules: int, faults: int,
                    fault_points: int, shards: int, power: bool, seed: int, executor: Any,
                    clean_modules: int) -> None:
    """What `gatesim_command` writes into its staging folder, but the manifest."""
    print(f"[gatesim] proving the {library.name} cell models against the Liberty", file=sys.stderr)
    proven = prove_models(library, stage / "cells")
    runs = []
    for netlist in netlists if modules else []:
        print(f"[gatesim] {netlist.label}: {netlist.path} (Verilator build, then I2C and {modules} "
              "modules)", file=sys.stderr)
        run = simulate_netlist(netlist.path, proven, library, programmed[netlist.label],
                               stage / netlist.label, modules)
        print(f"[gatesim] {netlist.label}: {run.flattened_cells:,} cells, image read back equal, "
              f"{run.modules} modules bit-exact (build {run.result.build_seconds:.0f} s, run "
              f"{run.result.run_seconds:.0f} s)", file=sys.stderr)
        runs.append(run)
    campaigns = []
    for netlist in netlists if faults else []:
        hardened = netlist.build == "hardened"
        print(f"[gatesim] {netlist.label}: fault-injection build, {faults} upsets and {faults} "
              f"transients on {fault_points} random points, {shards} shard(s)", file=sys.stderr)
        campaign = run_fault_campaign(netlist.path, library, programmed[netlist.label],
                                      stage / f"faults_{netlist.label}",
                                      upset_points=fault_points // 2, transient_points=fault_points // 2,
                                      faults=faults, expect_survival=hardened, shards=shards,
                                      executor=executor, clean_modules=clean_modules)
        if campaign.failed or campaign.survived != hardened:
            raise GateSimError(f"fault campaign on {netlist.path}: the {netlist.build} netlist "
                               f"{'lost state' if hardened else 'survived every fault'}; see "
                               f"{stage / f'faults_{netlist.label}'}")
        print(f"[gatesim] {netlist.label}: {campaign.line()}", file=sys.stderr)
        campaigns.append((netlist, campaign))
    powers = []
    for netlist in netlists if power else []:
        print(f"[gatesim] {netlist.label}: activity of every net (a build with toggle counts, two runs), "
              "then OpenSTA", file=sys.stderr)
        measured = _power(netlist, library, programmed[netlist.label], modules, seed,
                          stage / f"power_{netlist.label}")
        print(f"[gatesim] {netlist.label}: {power_line(measured, netlist.design.ii)}", file=sys.stderr)
        powers.append((netlist, measured))
    text = summary_markdown(runs, netlists, proven, command) + campaign_markdown(campaigns) \
        + power_markdown(powers)
    write_text(stage / "gatesim.md", text)
    figures = netlist_figures(runs, netlists, campaigns, powers)
    write_text(stage / FIGURES_FILE, json.dumps([asdict(f) for f in figures], indent=1) + "\n")


def gatesim_command(synth_dir: Path, out: Path, command: str, weights: Path | None = None, modules: int = 200,
                    seed: int = 5, force: bool = False, faults: int = 0, fault_points: int = 1000,
                    power: bool = False, builds: tuple[str, ...] = (), shards: int = 1,
                    cluster: Cluster | None = None, clean_modules: int = 40) -> Path:
    """`asicgen gatesim`: every mapped netlist of a synth folder programmed over I2C, read back and
    streamed bit-exact, with cell models proven against the library first; with `faults`, then a
    campaign of that many upsets and as many transients on each (asicgen.gate_faults), split
    over `shards` simulations side by side (on this machine, or on the Dask `cluster`): the
    hardened netlists must survive it, the plain ones must not. Writes OUT whole."""
    if modules == 0 and (power or not faults):
        raise GateSimError("--modules 0 skips the streaming run: it needs --faults (whose campaigns program "
                           "and read back the image themselves) and no --power (which streams the modules)")
    netlists = [n for n in mapped_netlists(synth_dir) if not builds or n.build in builds]
    if not netlists:
        raise GateSimError(f"{synth_dir}: no {' or '.join(builds)} netlist")
    library = read_library(netlists[0].library)
    # a wrong --weights fails here, before any build
    programmed = {n.label: netlist_weights(n, weights, seed) for n in netlists}
    fields = {"command": command, "source": str(synth_dir)}
    # a failed run keeps its folder (builds, logs) for inspection, marked failed
    with staged_folder(Path(out), GATESIM_KIND, force=force, keep_on_error=True) as stage:
        try:
            with contextlib.ExitStack() as stack:
                executor = None
                if cluster is not None and faults:
                    executor = stack.enter_context(contextlib.closing(make_client(cluster)))
                _gatesim_stages(stage, netlists, library, programmed, command, modules=modules, faults=faults,
                                fault_points=fault_points, shards=shards, power=power, seed=seed,
                                executor=executor, clean_modules=clean_modules)
        except Exception as err:
            write_manifest(stage, GATESIM_KIND, {**fields, "status": "failed", "error": str(err)})
            shown = str(err).replace(str(stage), str(out))
            raise GateSimError(f"{shown} (the run's folder is kept for inspection: {out})") from err
        write_manifest(stage, GATESIM_KIND, {**fields, "status": "passed"})
    return Path(out) / "gatesim.md"
