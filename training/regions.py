"""Detector regions: where a module sits decides its occupancy and its e-links.

A region is a typed description: its e-link budget and either the parameters of
the synthetic module generator or a list of data files. Named presets span low
to high occupancy with one preset per e-link budget 2..5; users write their own
regions as TOML/JSON files (see docs/regions.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asicgen.core.design import ELINK_RANGE, elink_kept_bits
from asicgen.core.raw import (
    ConfigError,
    check_keys,
    get_float,
    get_int,
    get_pair,
    get_str,
    load_config_file,
)

ELINK_CHOICES = ELINK_RANGE


@dataclass(frozen=True)
class GeneratorParams:
    """Synthetic module generator settings (charges in MIP_T unless named counts)."""

    modules: int = 60_000
    #: mean number of pile-up deposits per module (Poisson)
    pileup_rate: float = 1.0
    #: mean energy of one pile-up deposit above its 1 MIP_T floor
    pileup_mean_mipt: float = 2.0
    #: probability that a module holds a shower core
    shower_probability: float = 0.1
    #: fraction of showers that are hadronic (the rest electromagnetic)
    hadronic_fraction: float = 0.5
    #: shower energy deposited in the module, log-uniform in this range
    shower_energy_mipt: tuple[float, float] = (10.0, 1000.0)
    #: Gaussian electronics noise per TC (quadratic sum over its cells), in ADC counts
    noise_counts: float = 4.0
    #: sensor cells summed into one TC (4 in 200/300 um sensors, 9 in 120 um ones)
    cells_per_tc: int = 4
    #: front-end zero suppression: a cell enters its TC sum only above this many
    #: sigma of its noise (0: every cell with a positive pedestal-subtracted value)
    cell_threshold_sigma: float = 0.0
    layer: int = 20
    eta: float = 2.0

    @classmethod
    def from_raw(cls, raw: Any, where: str, base: GeneratorParams) -> GeneratorParams:
        fields = set(cls.__dataclass_fields__)
        data = check_keys(raw, where, set(), fields)
        values = asdict(base)
        for key in ("modules", "layer", "cells_per_tc"):
            if key in data:
                values[key] = get_int(data, key, where, lo=1)
        for key in ("pileup_rate", "pileup_mean_mipt", "noise_counts", "eta",
                    "cell_threshold_sigma"):
            if key in data:
                values[key] = get_float(data, key, where, lo=0.0)
        for key in ("shower_probability", "hadronic_fraction"):
            if key in data:
                values[key] = get_float(data, key, where, lo=0.0, hi=1.0)
        if "shower_energy_mipt" in data:
            low, high = get_pair(data, "shower_energy_mipt", where)
            if low <= 0:
                raise ConfigError(f"{where}.shower_energy_mipt: the low edge must be positive")
            values["shower_energy_mipt"] = (low, high)
        return cls(**values)


@dataclass(frozen=True)
class Region:
    name: str
    elinks: int
    description: str
    generator: GeneratorParams
    #: data files (CSV or .npz) to use instead of the generator, if any
    data_files: tuple[Path, ...] = ()

    @property
    def output_bits(self) -> int:
        """Bits kept per encoder output for this e-link budget (SPEC section 6)."""
        return elink_output_bits(self.elinks)

    @classmethod
    def from_raw(cls, raw: Any, where: str = "region", relative_to: Path | None = None) -> Region:
        data = check_keys(raw, where, {"name"},
                          {"base", "elinks", "description", "generator", "data_files"})
        base = preset(get_str(data, "base", where)) if "base" in data else None
        name = get_str(data, "name", where)
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{where}.name: {name!r} must be letters, digits, '_' or '-'")
        default_elinks = base.elinks if base else None
        if "elinks" not in data and default_elinks is None:
            raise ConfigError(f"{where}: missing required key elinks (or a base preset)")
        elinks = get_int(data, "elinks", where, default_elinks)
        if elinks not in ELINK_CHOICES:
            raise ConfigError(f"{where}.elinks: {elinks} is not one of {ELINK_CHOICES}")
        gen_base = base.generator if base else GeneratorParams()
        generator = GeneratorParams.from_raw(data.get("generator", {}), f"{where}.generator", gen_base)
        files = data.get("data_files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{where}.data_files: expected a list of file paths")
        root = relative_to or Path.cwd()
        paths = tuple((root / f) if not Path(f).is_absolute() else Path(f) for f in files)
        _check_data_files(files, paths, f"{where}.data_files",
                          "the region file" if relative_to else "the working folder")
        description = get_str(data, "description", where, base.description if base else "")
        return cls(name, elinks, description, generator, paths)


def _check_data_files(names: list[str], paths: tuple[Path, ...], where: str, root: str) -> None:
    """Every named file must exist when the region is read, before any work starts:
    a region naming data is never trained on something else."""
    for i, (name, path) in enumerate(zip(names, paths, strict=True)):
        if not path.is_file():
            problem = "a directory, not a data file" if path.is_dir() else "no such data file"
            note = "" if Path(name).is_absolute() else f"; paths are relative to {root}"
            raise ConfigError(f"{where}[{i}]: {name!r}: {problem} (looked for {path.absolute()}{note})")


def elink_output_bits(elinks: int) -> int:
    if elinks not in ELINK_CHOICES:
        raise ConfigError(f"e-link count {elinks} is not one of {ELINK_CHOICES}")
    return elink_kept_bits(elinks)


_PRESETS: dict[str, Region] = {
    r.name: r
    for r in (
        Region(
            "ceh_back", 2,
            "back hadronic layers, low eta: sparse, mostly empty modules",
            GeneratorParams(pileup_rate=0.3, shower_probability=0.05, hadronic_fraction=0.8,
                            shower_energy_mipt=(5.0, 300.0), layer=40, eta=1.7),
        ),
        Region(
            "ceh_front", 3,
            "front hadronic layers, medium eta",
            GeneratorParams(pileup_rate=1.0, shower_probability=0.10, hadronic_fraction=0.6,
                            shower_energy_mipt=(10.0, 800.0), layer=30, eta=2.0),
        ),
        Region(
            "cee_mid", 4,
            "electromagnetic section near shower maximum, medium eta",
            GeneratorParams(pileup_rate=2.0, shower_probability=0.15, hadronic_fraction=0.3,
                            shower_energy_mipt=(20.0, 2000.0), layer=15, eta=2.3),
        ),
        Region(
            "cee_high_eta", 5,
            "electromagnetic section, high eta: the busiest modules",
            GeneratorParams(pileup_rate=4.0, shower_probability=0.2, hadronic_fraction=0.2,
                            shower_energy_mipt=(30.0, 3000.0), layer=9, eta=2.8),
        ),
    )
}

DEFAULT_REGION = "cee_high_eta"


def preset_names() -> tuple[str, ...]:
    return tuple(_PRESETS)


def preset(name: str) -> Region:
    try:
        return _PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown region {name!r}; presets are {', '.join(_PRESETS)} "
                          "(or give a .toml/.json region file)") from None


def resolve_region(name_or_path: str) -> Region:
    """A preset name, or a TOML/JSON file holding a [region] table."""
    if name_or_path in _PRESETS:
        return _PRESETS[name_or_path]
    path = Path(name_or_path)
    if path.suffix in (".toml", ".json"):
        raw = load_config_file(path)
        if "region" not in raw:
            raise ConfigError(f"{path}: no [region] table")
        return Region.from_raw(raw["region"], f"{path}: region", relative_to=path.parent)
    return preset(name_or_path)
