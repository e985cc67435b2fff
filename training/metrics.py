"""Earth mover's distance between modules, and its summary statistics.

`emd(a, b)` is the reference: both modules normalised to unit sum, ground
distance = Euclidean distance between TC centres (in sensor-cell pitches),
computed by `pyemd` (POT backend, its default).

`emd_batch(A, B)` returns exactly (bit for bit) what `emd` returns for every
pair, faster: it replays pyemd's own computation (pre-flow of shared mass,
the partial-transport extension, POT's network simplex on the active support)
without the per-call Python overhead, skips pairs whose answer needs no solver,
and can spread large batches over worker processes.
"""

from __future__ import annotations

import os

# POT probes every array backend it finds at import time; TensorFlow is
# installed here but never used by the EMD, and importing it costs seconds.
os.environ.setdefault("POT_BACKEND_DISABLE_TENSORFLOW", "1")
os.environ.setdefault("POT_BACKEND_DISABLE_PYTORCH", "1")
os.environ.setdefault("POT_BACKEND_DISABLE_JAX", "1")
os.environ.setdefault("POT_BACKEND_DISABLE_CUPY", "1")

from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import cache  # noqa: E402
from multiprocessing import get_context  # noqa: E402

import numpy as np  # noqa: E402
import pyemd  # noqa: E402
from ot.lp.emd_wrap import emd_c  # noqa: E402

from asicgen.core.geometry import N_TC, ground_distance  # noqa: E402

#: occupancy bins (TCs above 1 MIP_T) of the public ECON-T studies
OCCUPANCY_BINS = ((0, 2), (2, 5), (5, 10), (10, 15), (15, None))
_MAX_ITER = 100_000
_PARALLEL_MIN_PAIRS = 500_000


@cache
def _distance() -> np.ndarray:
    return np.ascontiguousarray(ground_distance(), dtype=np.float64)


def _as_modules(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != N_TC:
        raise ValueError(f"{name}: expected {N_TC} charges per module, got shape {np.shape(x)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: charges must be finite")
    if np.any(arr < 0):
        raise ValueError(f"{name}: charges must be non-negative")
    return arr


def unit_sum(x: np.ndarray, name: str = "modules") -> np.ndarray:
    """Rows scaled to unit sum; an all-zero row is an error (no shape to compare)."""
    arr = _as_modules(x, name)
    total = arr.sum(axis=1, keepdims=True)
    empty = np.flatnonzero(total[:, 0] == 0)
    if len(empty):
        raise ValueError(f"{name}: module {empty[0]} has zero total charge; EMD is undefined")
    return arr / total


def emd(a: np.ndarray, b: np.ndarray) -> float:
    """EMD between two modules (48 charges each, any scale), in sensor-cell pitches."""
    pa = unit_sum(a, "a")
    pb = unit_sum(b, "b")
    if len(pa) != 1 or len(pb) != 1:
        raise ValueError("emd() compares one pair of modules; use emd_batch() for many")
    return float(pyemd.emd(pa[0], pb[0], _distance()))


@cache
def _extended_distance() -> tuple[np.ndarray, float]:
    dist = _distance()
    ext = np.zeros((N_TC + 1, N_TC + 1))
    ext[:N_TC, :N_TC] = dist
    ext[N_TC, N_TC] = dist.max() * 2
    return ext, float(dist.max())


def _emd_rows(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """pyemd's POT-backend computation, pair by pair, on unit-sum rows.

    The same operations in the same order as pyemd, so the results are identical
    bit for bit; only the per-pair Python overhead is removed (row sums are taken
    once for all rows, and the flow matrix is reused).
    """
    dist = _distance()
    ext, penalty = _extended_distance()
    n = len(pa)
    a_ext = np.zeros((n, N_TC + 1))
    b_ext = np.zeros((n, N_TC + 1))
    np.subtract(pa, pb, out=a_ext[:, :N_TC], where=pa >= pb)
    np.subtract(pb, pa, out=b_ext[:, :N_TC], where=pa < pb)
    sum_a = a_ext[:, :N_TC].sum(axis=1)
    sum_b = b_ext[:, :N_TC].sum(axis=1)
    moved = np.minimum(sum_a, sum_b)
    a_ext[:, N_TC] = sum_b - moved
    b_ext[:, N_TC] = sum_a - moved
    out = np.abs(pa.sum(axis=1) - pb.sum(axis=1)) * penalty
    totals_a = a_ext.sum(axis=1)[:, None]
    totals_b = b_ext.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        b_scaled = b_ext * totals_a / totals_b
    flow = np.zeros((N_TC + 1, N_TC + 1))
    flow_tc = flow[:N_TC, :N_TC]
    product = np.empty((N_TC, N_TC))
    add = np.add.reduce
    for i in np.flatnonzero((sum_a != 0) & (sum_b != 0)):
        rows = a_ext[i].nonzero()[0]
        cols = b_scaled[i].nonzero()[0]
        at = (rows[:, None], cols)
        plan, _, _, _, code = emd_c(a_ext[i, rows], b_scaled[i, cols], ext[at], _MAX_ITER, 1, None, None)
        if code != 1:
            raise RuntimeError(f"network simplex did not reach an optimum (code {code}) on pair {i}")
        flow[at] = plan
        np.multiply(flow_tc, dist, out=product)
        out[i] = add(product, axis=None) + out[i]
        flow[at] = 0.0
    return out


def emd_batch(a: np.ndarray, b: np.ndarray, workers: int | None = None) -> np.ndarray:
    """EMD of every pair of rows of a and b, (n, 48) each; equal to `emd` row by row.

    `workers`: processes to use (default: one; one per CPU core from 500,000 pairs up,
    where starting the workers pays off).
    """
    pa = unit_sum(a, "a")
    pb = unit_sum(b, "b")
    if pa.shape != pb.shape:
        raise ValueError(f"a and b must hold the same number of modules: {pa.shape} vs {pb.shape}")
    if workers is None:
        workers = (os.cpu_count() or 1) if len(pa) >= _PARALLEL_MIN_PAIRS else 1
    if workers <= 1 or len(pa) < 2 * workers:
        return _emd_rows(pa, pb)
    chunks = np.array_split(np.arange(len(pa)), workers * 4)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        parts = pool.map(_emd_rows, [pa[c] for c in chunks], [pb[c] for c in chunks])
        return np.concatenate(list(parts))


# --- summaries -------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median and central 68% interval of a distribution."""

    count: int
    median: float
    low68: float
    high68: float

    @classmethod
    def of(cls, values: np.ndarray) -> Summary:
        values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            return cls(0, float("nan"), float("nan"), float("nan"))
        low, med, high = np.percentile(values, [16.0, 50.0, 84.0])
        return cls(len(values), float(med), float(low), float(high))

    def to_json(self) -> dict[str, float | int | None]:
        def clean(v: float) -> float | None:
            return None if np.isnan(v) else round(v, 6)

        return {"count": self.count, "median": clean(self.median),
                "low68": clean(self.low68), "high68": clean(self.high68)}


def bin_label(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else f"{low}-{high}"


def summarise(values: np.ndarray, occupancy: np.ndarray) -> dict[str, Summary]:
    """Overall and per-occupancy-bin summaries (keys 'all', '0-2', ... '15+')."""
    values = np.asarray(values)
    occupancy = np.asarray(occupancy)
    out = {"all": Summary.of(values)}
    for low, high in OCCUPANCY_BINS:
        mask = occupancy >= low if high is None else (occupancy >= low) & (occupancy < high)
        out[bin_label(low, high)] = Summary.of(values[mask])
    return out
