"""Module data: the synthetic generator, file loaders and the train/validation split.

A `ModuleSet` holds N modules: (N, 48) integer CALQ charges in ADC counts
(CALQ order, see geometry) plus per-module metadata. Two file formats are read:

* CSV with columns CALQ_0..CALQ_47 plus optional metadata columns, as used by
  the public ECON-T studies (other columns are ignored);
* the project's own `.npz` (arrays `calq` and one array per metadata field).

Every row is validated; bad input raises `DataError` naming file and line.
"""

from __future__ import annotations

import csv
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NoReturn

import numpy as np

from asicgen.core.atomic import atomic_path
from asicgen.core.codec import MAX_TC_CHARGE
from asicgen.core.geometry import N_TC, tc_centres
from asicgen.core.raw import warn
from training.regions import GeneratorParams, Region

#: ADC counts of one MIP_T (SPEC section 2)
MIPT_COUNTS = 35
#: Keras' `set_random_seed` (NumPy's legacy seeding) takes 0..2^32-1; every seed option
#: shares the bound, so a seed that generates data can also train on it
MAX_SEED = 2**32 - 1
#: fewer modules than this from data files draw a warning: the encoder has over 2,000
#: weights, and the EMD per occupancy bin needs hundreds of validation modules per bin
#: (the presets generate 60,000)
RECOMMENDED_MODULES = 10_000
#: the first bytes of a zip archive (np.savez), of an empty one, and of a bare .npy array
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"
CALQ_COLUMNS = tuple(f"CALQ_{i}" for i in range(N_TC))
#: metadata columns understood by the loader (float or integer valued)
METADATA_COLUMNS = ("layer", "waferu", "waferv", "eta", "elinks", "sim_energy_mipt")
#: aliases used by other producers of ECON-T style CSV files
METADATA_ALIASES = {"nElinks": "elinks", "tc_layer": "layer", "wafer_u": "waferu",
                    "wafer_v": "waferv", "simenergy": "sim_energy_mipt"}
MAX_ERRORS_LISTED = 10


class DataError(ValueError):
    """A data file is malformed; the message names file and line."""


@dataclass
class ModuleSet:
    calq: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.calq = np.asarray(self.calq, dtype=np.int64)
        if self.calq.ndim != 2 or self.calq.shape[1] != N_TC:
            raise DataError(f"charges must have shape (N, {N_TC}), got {self.calq.shape}")
        for name, values in self.meta.items():
            if len(values) != len(self.calq):
                raise DataError(f"metadata {name!r} has {len(values)} rows, charges {len(self.calq)}")

    def __len__(self) -> int:
        return len(self.calq)

    def subset(self, index: np.ndarray) -> ModuleSet:
        return ModuleSet(self.calq[index], {k: v[index] for k, v in self.meta.items()})

    def occupancy(self) -> np.ndarray:
        """TCs above 1 MIP_T per module."""
        return occupancy(self.calq)

    def save(self, path: Path) -> None:
        """Write as .npz (project format) or .csv, atomically."""
        path = Path(path)
        if path.suffix == ".npz":
            with atomic_path(path) as tmp, tmp.open("wb") as fh:
                np.savez_compressed(fh, calq=self.calq, **self.meta)
        elif path.suffix == ".csv":
            with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
                writer = csv.writer(fh)
                names = list(self.meta)
                writer.writerow(list(CALQ_COLUMNS) + names)
                for i in range(len(self)):
                    row = [str(int(v)) for v in self.calq[i]]
                    row += [_format_meta(self.meta[n][i]) for n in names]
                    writer.writerow(row)
        else:
            raise DataError(f"{path}: unsupported data format {path.suffix!r} (use .csv or .npz)")


def occupancy(calq: np.ndarray) -> np.ndarray:
    return (np.asarray(calq) > MIPT_COUNTS).sum(axis=-1)


def _format_meta(value: np.generic) -> str:
    if np.issubdtype(np.asarray(value).dtype, np.integer):
        return str(int(value))
    return repr(float(value))


# --- loading -------------------------------------------------------------------


def load_modules(paths: list[Path] | tuple[Path, ...]) -> ModuleSet:
    """Load and concatenate module files (.csv or .npz)."""
    if not paths:
        raise DataError("no data files given")
    parts = [load_file(Path(p)) for p in paths]
    keys = set(parts[0].meta)
    for path, part in zip(paths, parts, strict=True):
        if set(part.meta) != keys:
            raise DataError(f"{path}: metadata columns {sorted(part.meta)} differ from "
                            f"{paths[0]}'s {sorted(keys)}")
    return ModuleSet(np.concatenate([p.calq for p in parts]),
                     {k: np.concatenate([p.meta[k] for p in parts]) for k in keys})


def load_file(path: Path) -> ModuleSet:
    if not path.exists():
        raise DataError(f"{path}: no such data file")
    if path.suffix == ".csv":
        modules = _load_csv(path)
    elif path.suffix == ".npz":
        modules = _load_npz(path)
    else:
        raise DataError(f"{path}: unsupported data format {path.suffix!r} (use .csv or .npz)")
    _warn_clipped(path, modules.calq)
    return modules


def _warn_clipped(path: Path, calq: np.ndarray) -> None:
    """The 7-bit transport saturates: the network never sees a charge above MAX_TC_CHARGE."""
    above = calq > MAX_TC_CHARGE
    if np.any(above):
        warn(f"{path}: {int(above.sum())} charge(s) above {MAX_TC_CHARGE} ADC counts (largest "
             f"{int(calq.max())}) will be clipped to {MAX_TC_CHARGE}, the largest charge the "
             "7-bit transport carries")


def _parse_charge(text: str) -> int:
    value = float(text)  # ValueError for non-numbers
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if value < 0:
        raise ValueError("negative charge")
    if value != int(value):
        raise ValueError("charge is not an integer count")
    if value > np.iinfo(np.int64).max:
        raise ValueError("charge does not fit a 64-bit count")
    return int(value)


def _load_csv(path: Path) -> ModuleSet:
    errors: list[str] = []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}:1: empty file, expected a header with {CALQ_COLUMNS[0]}..")
        header = [h.strip() for h in header]
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise DataError(f"{path}:1: duplicate column(s) {', '.join(duplicates)}")
        missing = [c for c in CALQ_COLUMNS if c not in header]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {', '.join(missing[:5])}"
                            f"{' ...' if len(missing) > 5 else ''}")
        calq_pos = [header.index(c) for c in CALQ_COLUMNS]
        meta_pos = {METADATA_ALIASES.get(h, h): i for i, h in enumerate(header)
                    if METADATA_ALIASES.get(h, h) in METADATA_COLUMNS}
        rows: list[list[int]] = []
        meta_rows: dict[str, list[float]] = {k: [] for k in meta_pos}
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                errors.append(f"{path}:{line_no}: expected {len(header)} fields, found {len(row)}")
                continue
            charges = []
            for col, pos in zip(CALQ_COLUMNS, calq_pos, strict=True):
                try:
                    charges.append(_parse_charge(row[pos]))
                except ValueError as exc:
                    errors.append(f"{path}:{line_no}: column {col}: bad value {row[pos]!r} ({exc})")
                    break
            else:
                bad_meta = False
                for name, pos in meta_pos.items():
                    try:
                        value = float(row[pos])
                        if not math.isfinite(value):
                            raise ValueError
                        meta_rows[name].append(value)
                    except ValueError:
                        errors.append(f"{path}:{line_no}: column {header[pos]}: "
                                      f"bad value {row[pos]!r} (not a finite number)")
                        bad_meta = True
                        break
                if not bad_meta:
                    rows.append(charges)
            if len(errors) >= MAX_ERRORS_LISTED:
                break
    if errors:
        more = " (stopped listing)" if len(errors) >= MAX_ERRORS_LISTED else ""
        raise DataError("invalid data:\n  " + "\n  ".join(errors) + more)
    if not rows:
        raise DataError(f"{path}: no data rows")
    meta = {k: _narrow(np.array(v[: len(rows)])) for k, v in meta_rows.items()}
    return ModuleSet(np.array(rows, dtype=np.int64), meta)


def _narrow(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64) if np.all(values == np.round(values)) else values


def _check_npz_magic(path: Path) -> None:
    """Refuse what is not a zip before numpy guesses at it: numpy reads any other file
    as a pickle and reports a pickling problem, which misleads for a CSV named .npz."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if head.startswith(_ZIP_MAGIC):
        return
    if head.startswith(_NPY_MAGIC):
        _not_npz(path, "a single .npy array")
    if not head:
        _not_npz(path, "an empty file")
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        _not_npz(path, f"it starts with text {head[:16]!r} (a CSV file must be named .csv)")
    _not_npz(path, f"it starts with bytes {head[:16]!r}")


def _not_npz(path: Path, what: str) -> NoReturn:
    raise DataError(f"{path}: not a readable .npz archive: {what}; expected a zip of arrays 'calq' and "
                    "metadata as numpy.savez writes")


def _load_npz(path: Path) -> ModuleSet:
    _check_npz_magic(path)
    try:
        return _read_npz(path)
    except DataError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(f"{path}: an array holds Python objects, which asicgen does not unpickle "
                            "(unpickling can run code); save integer arrays") from None
        _not_npz(path, f"damaged ({exc})")
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        # a truncated or corrupted zip fails at opening or at reading an array
        raise DataError(f"{path}: not a readable .npz archive: damaged or cut short ({type(exc).__name__}: "
                        f"{exc}); write it again (e.g. with asicgen data)") from None


def _read_npz(path: Path) -> ModuleSet:
    archive = np.load(path, allow_pickle=False)
    with archive:
        if "calq" not in archive.files:
            raise DataError(f"{path}: no 'calq' array")
        calq = archive["calq"]
        if calq.ndim != 2 or calq.shape[1] != N_TC:
            raise DataError(f"{path}: 'calq' must have shape (N, {N_TC}), got {calq.shape}")
        if not np.issubdtype(calq.dtype, np.integer):
            raise DataError(f"{path}: 'calq' must hold integers, got {calq.dtype}")
        if calq.size and calq.max() > np.iinfo(np.int64).max:
            raise DataError(f"{path}: 'calq' holds a charge above the largest 64-bit count")
        bad = np.argwhere(calq < 0)
        if len(bad):
            row, col = bad[0]
            raise DataError(f"{path}: module {row} (row {row + 1}), CALQ_{col}: negative charge "
                            f"{calq[row, col]}")
        meta = {}
        for name in archive.files:
            if name == "calq":
                continue
            if name not in METADATA_COLUMNS:
                raise DataError(f"{path}: unknown array {name!r} (known: calq, "
                                f"{', '.join(METADATA_COLUMNS)})")
            values = archive[name]
            if values.shape != (len(calq),):
                raise DataError(f"{path}: array {name!r} must have shape ({len(calq)},)")
            meta[name] = values
    return ModuleSet(calq, meta)


# --- synthetic generator -------------------------------------------------------

_SAMPLE_SPACING = 0.25
#: Moliere radius, in sensor-cell pitches: about one TC pitch (SPEC section 2)
MOLIERE_RADIUS = 2.0


@cache
def _area_samples() -> tuple[np.ndarray, np.ndarray]:
    """Points tiling the module, each assigned to its nearest TC.

    Returns (points (P, 2), assignment matrix (P, 48)) with every point carrying
    its area, so that integrating a density is `density(points) @ matrix`.
    """
    centres = tc_centres()
    lo, hi = centres.min(axis=0) - 1.2, centres.max(axis=0) + 1.2
    xs = np.arange(lo[0], hi[0], _SAMPLE_SPACING) + _SAMPLE_SPACING / 2
    ys = np.arange(lo[1], hi[1], _SAMPLE_SPACING) + _SAMPLE_SPACING / 2
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    dist = np.sqrt(((grid[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    nearest = dist.argmin(axis=1)
    # a TC covers 4 hexagonal sensor cells: radius ~1.15 pitches around its centre
    inside = dist[np.arange(len(grid)), nearest] < 1.15
    points = grid[inside]
    matrix = np.zeros((len(points), N_TC))
    matrix[np.arange(len(points)), nearest[inside]] = _SAMPLE_SPACING**2
    return points, matrix


_TABLE_MARGIN = 6.0
_TABLE_SPACING = 0.5
_CORE_RADII = MOLIERE_RADIUS * np.array([0.4, 0.5, 0.6, 0.7, 0.8])


@cache
def _table_grid() -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Positions (on a half-pitch grid around the module) at which profiles are tabulated."""
    centres = tc_centres()
    origin = centres.min(axis=0) - _TABLE_MARGIN
    span = centres.max(axis=0) + _TABLE_MARGIN - origin
    shape = tuple(int(v) for v in np.ceil(span / _TABLE_SPACING).astype(int) + 1)
    ix, iy = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    grid = origin + _TABLE_SPACING * np.stack([ix, iy], axis=-1).reshape(-1, 2)
    return origin, grid, (shape[0], shape[1])


@cache
def _fraction_table(radius: float) -> np.ndarray:
    """(positions, 48) fraction of a profile of this radius deposited in each TC."""
    points, matrix = _area_samples()
    _, grid, _ = _table_grid()
    rad2 = radius * radius
    out = np.empty((len(grid), N_TC))
    for start in range(0, len(grid), 2048):
        r2 = ((points[None, :, :] - grid[start:start + 2048, None, :]) ** 2).sum(-1)
        out[start:start + 2048] = (rad2 / (np.pi * (r2 + rad2) ** 2)) @ matrix
    return out


def _profile_fractions(centre: np.ndarray, radius: float) -> np.ndarray:
    """Fraction of a radial shower profile deposited in each TC.

    Profile: rho(r) = R^2 / (pi (r^2 + R^2)^2), the Grindhammer form, whose
    containment within r is r^2 / (r^2 + R^2). Energy outside the module is
    lost. Centres are snapped to a half-pitch grid; a centre far outside the
    module deposits nothing. centre (n, 2) -> (n, 48).
    """
    origin, _, shape = _table_grid()
    cell = np.rint((centre - origin) / _TABLE_SPACING).astype(np.int64)
    inside = (cell[:, 0] >= 0) & (cell[:, 0] < shape[0]) & (cell[:, 1] >= 0) & (cell[:, 1] < shape[1])
    flat = np.where(inside, cell[:, 0] * shape[1] + cell[:, 1], 0)
    return np.where(inside[:, None], _fraction_table(float(radius))[flat], 0.0)


def _random_positions(rng: np.random.Generator, n: int, margin: float) -> np.ndarray:
    """Uniform positions over the module, plus a margin around it."""
    centres = tc_centres()
    lo, hi = centres.min(axis=0) - margin, centres.max(axis=0) + margin
    return rng.uniform(lo, hi, size=(n, 2))


def _add_showers(rng: np.random.Generator, energy: np.ndarray, p: GeneratorParams) -> np.ndarray:
    n = len(energy)
    has_shower = rng.random(n) < p.shower_probability
    idx = np.flatnonzero(has_shower)
    deposited = np.zeros(n)
    if len(idx) == 0:
        return deposited
    low, high = p.shower_energy_mipt
    e_total = np.exp(rng.uniform(np.log(low), np.log(high), len(idx)))
    deposited[idx] = e_total
    hadronic = rng.random(len(idx)) < p.hadronic_fraction
    centre = _random_positions(rng, len(idx), margin=1.0)
    core_frac = np.where(hadronic, rng.uniform(0.3, 0.7, len(idx)), 1.0)
    # electromagnetic: 90% containment within one Moliere radius, R = R_M / 3
    shower = _profile_fractions(centre, MOLIERE_RADIUS / 3.0)
    had = np.flatnonzero(hadronic)
    core_choice = rng.integers(0, len(_CORE_RADII), len(had))
    for k, radius in enumerate(_CORE_RADII):
        pick = had[core_choice == k]
        shower[pick] = _profile_fractions(centre[pick], radius)
    shower *= (e_total * core_frac)[:, None]
    if len(had):
        # hadronic showers: a broad halo plus a few displaced sub-clusters
        halo = _profile_fractions(centre[had], 2.5 * MOLIERE_RADIUS)
        rest = e_total[had] * (1.0 - core_frac[had])
        n_sub = rng.integers(1, 4, len(had))
        shower[had] += halo * (0.5 * rest)[:, None]
        for k in range(3):
            active = n_sub > k
            offset = rng.normal(0.0, 2.0 * MOLIERE_RADIUS, size=(len(had), 2))
            sub = _profile_fractions(centre[had] + offset, MOLIERE_RADIUS / 2)
            share = np.where(active, 0.5 * rest / n_sub, 0.0)
            shower[had] += sub * share[:, None]
    energy[idx] += shower
    return deposited


def _add_pileup(rng: np.random.Generator, energy: np.ndarray, p: GeneratorParams) -> None:
    n = len(energy)
    count = rng.poisson(p.pileup_rate, n)
    total = int(count.sum())
    if total == 0:
        return
    owner = np.repeat(np.arange(n), count)
    centre = _random_positions(rng, total, margin=0.5)
    e = 1.0 + rng.exponential(p.pileup_mean_mipt, total)
    # minimum-ionising pile-up deposits are narrow: mostly one TC
    frac = _profile_fractions(centre, 0.35)
    np.add.at(energy, owner, frac * e[:, None])


def _front_end(rng: np.random.Generator, counts: np.ndarray, p: GeneratorParams) -> np.ndarray:
    """Electronics noise and the trigger-path zero suppression of the front-end chip.

    Each TC is the sum of `cells_per_tc` sensor cells. Every cell gets Gaussian
    noise of noise_counts / sqrt(cells_per_tc) after pedestal subtraction (so
    the TC sum has noise_counts), and a cell enters the TC sum only if it is
    above `cell_threshold_sigma` times its own noise (0: only positive cells),
    as in the CMS L1 HGCAL front-end emulation (cell thresholds before the TC
    sums). The TC's deposit is shared evenly among its cells.
    """
    n_cells = p.cells_per_tc
    sigma = p.noise_counts / np.sqrt(n_cells)
    cells = counts[..., None] / n_cells + rng.normal(0.0, sigma, counts.shape + (n_cells,))
    keep = cells > max(p.cell_threshold_sigma * sigma, 0.0)
    return np.where(keep, cells, 0.0).sum(axis=-1)


def generate(region: Region, seed: int, modules: int | None = None) -> ModuleSet:
    """Seeded synthetic modules for a region (reproducible for a given seed)."""
    p = region.generator
    n = p.modules if modules is None else modules
    rng = np.random.default_rng(seed)
    chunk = 5000
    calq = np.zeros((n, N_TC), dtype=np.int64)
    sim_energy = np.zeros(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        energy = np.zeros((stop - start, N_TC))
        sim_energy[start:stop] = _add_showers(rng, energy, p)
        _add_pileup(rng, energy, p)
        # sampling fluctuation: 30% / sqrt(E / MIP_T) smearing of each deposit
        counts = energy * MIPT_COUNTS
        counts = rng.normal(counts, 0.3 * np.sqrt(counts * MIPT_COUNTS))
        counts = _front_end(rng, counts, p)
        calq[start:stop] = np.clip(np.rint(counts), 0, None).astype(np.int64)
    meta = {
        "layer": np.full(n, p.layer, dtype=np.int64),
        "waferu": rng.integers(-6, 7, n),
        "waferv": rng.integers(-6, 7, n),
        "eta": np.round(p.eta + rng.normal(0.0, 0.05, n), 4),
        "elinks": np.full(n, region.elinks, dtype=np.int64),
        "sim_energy_mipt": np.round(sim_energy, 3),
    }
    return ModuleSet(calq, meta)


def region_modules(region: Region, seed: int, modules: int | None = None) -> ModuleSet:
    """The region's data: its files if it names any, else the generator."""
    if region.data_files:
        data = load_modules(region.data_files)
        _warn_few_modules(region, data)
        return data if modules is None else data.subset(np.arange(min(modules, len(data))))
    return generate(region, seed, modules)


def _warn_few_modules(region: Region, data: ModuleSet) -> None:
    """Few modules train without error but give an encoder worth little: say so early."""
    usable = int(np.count_nonzero(data.calq.sum(axis=1)))  # empty modules are skipped
    if usable >= RECOMMENDED_MODULES:
        return
    files = ", ".join(str(f) for f in region.data_files)
    empty = f" ({len(data) - usable} of {len(data)} are empty and skipped)" if usable < len(data) else ""
    warn(f"region {region.name}: its data files ({files}) hold only {usable} usable modules{empty}; "
         f"at least {RECOMMENDED_MODULES} are recommended to train the encoder (the presets generate "
         f"{GeneratorParams().modules})")


def split(n: int, seed: int, validation_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation split of n modules (indices)."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {validation_fraction}")
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = max(1, int(round(n * validation_fraction)))
    if n_val >= n:
        raise DataError(f"{n} modules are too few to split into training and validation")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def is_module_file(path: Path) -> bool:
    """Whether `path` looks like a module file asicgen writes (`ModuleSet.save`): an .npz
    of `calq` and metadata arrays only, or a CSV whose header is CALQ_0..47 then metadata."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = {Path(n).stem for n in archive.namelist()}
            return "calq" in names and names <= {"calq", *METADATA_COLUMNS}
        if path.suffix == ".csv":
            with path.open(newline="") as fh:
                header = next(csv.reader(fh), [])
            n = len(CALQ_COLUMNS)
            return tuple(header[:n]) == CALQ_COLUMNS and set(header[n:]) <= set(METADATA_COLUMNS)
    except (OSError, ValueError, UnicodeDecodeError, zipfile.BadZipFile):
        return False
    return False
