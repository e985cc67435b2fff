"""The switching activity `asicgen synth --liberty` scales its power figure by: trained
weights streaming their region's data through the RTL in a Verilator run."""

from __future__ import annotations

import sys
from pathlib import Path

from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet
from asicgen.rtl import generate_rtl
from asicgen.sources import load_network
from asicgen.synth import MeasureActivity
from training.data import region_modules
from training.regions import DEFAULT_REGION, resolve_region
from verif.activity import Activity, measure_activity

#: modules of region data streamed to measure switching activity, and their seed
ACTIVITY_MODULES, ACTIVITY_SEED = 2000, 11


def activity_for(source: str, activity_run: str | None,
                 modules: int = ACTIVITY_MODULES) -> MeasureActivity | None:
    """How `asicgen synth SOURCE --liberty` measures activity: from `activity_run`, else from
    SOURCE when it is a trained network; None (with a note) when neither is."""
    run = activity_run or (source if _is_trained_network(source) else None)
    if run is None:
        print("[synth] no power figure: give --activity RUN (a trained network of this architecture) "
              "to measure switching activity in simulation", file=sys.stderr)
        return None
    return _activity_measure(Path(run), modules)


def _is_trained_network(source: str) -> bool:
    path = Path(source)
    return (path / "weights.json").is_file() or path.suffix in (".h5", ".json")


def _activity_measure(run: Path, modules: int) -> MeasureActivity:
    """Switching activity from a bulk simulation of `run`'s trained weights on its region's data."""
    network = load_network(run)
    region = resolve_region(network.region or DEFAULT_REGION)
    charges = region_modules(region, ACTIVITY_SEED, modules).calq
    elinks = network.elinks or network.design.default_elinks

    measured: dict[str, Activity] = {}

    def measure(design: Design, rtl_dir: Path, work: Path) -> Activity:
        if design.arch != network.design.arch:
            raise ConfigError(f"--activity {run}: its architecture ({network.design.summary()}) is not the "
                              f"one synthesised ({design.summary()})")
        if design.digest() not in measured:
            weights = WeightSet.from_arrays(design, network.weights.tensors, str(run))
            print(f"[synth] II={design.ii}: measuring switching activity ({len(charges):,} modules of region "
                  f"{region.name}, weights of {run})", file=sys.stderr)
            # the registers the activity is read from are the same, bit for bit, whatever the
            # dot-product structure: simulate the chain, which Verilator builds fastest
            chain = work / "rtl_chain"
            generate_rtl(chain, design, "activity run", "chain")
            measured[design.digest()] = measure_activity(weights, charges, elinks, chain, work,
                                                         f"region {region.name}")
        return measured[design.digest()]

    return measure
