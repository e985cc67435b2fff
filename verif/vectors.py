"""Test vectors: synthetic modules of every region preset plus corner cases.

The same vector sets drive the QKeras comparison, the HLS C simulation and the
RTL testbenches. A vector is a module's 48 TC codes (4E3M) plus the e-link mode
it is processed in; the expected outputs come from `asicgen.core.golden`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asicgen.core import golden
from asicgen.core.atomic import write_text
from asicgen.core.codec import TC_CODE, encode_tc
from asicgen.core.design import Design
from asicgen.core.geometry import N_TC
from asicgen.core.golden import Outputs
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet
from training.data import generate
from training.regions import preset, preset_names


@dataclass(frozen=True)
class VectorSet:
    codes: np.ndarray  # (N, 48) 4E3M codes
    elinks: np.ndarray  # (N,) e-link mode of each module
    sources: tuple[tuple[str, int], ...]  # (name, count) of each block, in order

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def concat(cls, parts: list[VectorSet]) -> VectorSet:
        return cls(np.concatenate([p.codes for p in parts]), np.concatenate([p.elinks for p in parts]),
                   tuple(s for p in parts for s in p.sources))


def _modes(design: Design, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice([m.elinks for m in design.elink_modes], size=n)


def region_vectors(design: Design, per_region: int, seed: int) -> VectorSet:
    """`per_region` synthetic modules of every region preset, in random e-link modes."""

    rng = np.random.default_rng(seed)
    parts = []
    for i, name in enumerate(preset_names()):
        codes = encode_tc(generate(preset(name), seed + i, per_region).calq)
        parts.append(VectorSet(codes, _modes(design, per_region, rng), ((f"region {name}", per_region),)))
    return VectorSet.concat(parts)


def corner_vectors(design: Design, seed: int, random_rows: int = 2000) -> VectorSet:
    """All zero, one hot cell, two hot cells, saturated charges, random codes, every mode.

    `random_rows` sets the size of the random blocks (two-hot and sparse get a fifth and
    half of it)."""
    rng = np.random.default_rng(seed)
    top = TC_CODE.max_code
    blocks: list[tuple[str, np.ndarray]] = [("all zero", np.zeros((1, N_TC), np.int64))]
    one_hot = np.zeros((N_TC * 4, N_TC), np.int64)
    for k, value in enumerate((1, 8, 64, top)):
        one_hot[np.arange(N_TC) + k * N_TC, np.arange(N_TC)] = value
    blocks.append(("one hot cell", one_hot))
    pairs = rng.integers(0, N_TC, size=(max(1, random_rows // 5), 2))
    two_hot = np.zeros((len(pairs), N_TC), np.int64)
    two_hot[np.arange(len(pairs)), pairs[:, 0]] = rng.integers(1, top + 1, len(pairs))
    two_hot[np.arange(len(pairs)), pairs[:, 1]] = rng.integers(1, top + 1, len(pairs))
    blocks.append(("two hot cells", two_hot))
    blocks.append(("all saturated", np.full((1, N_TC), top, np.int64)))
    half = max(1, random_rows // 2)
    blocks.append(("random codes", rng.integers(0, top + 1, size=(random_rows, N_TC))))
    blocks.append(("small random codes", rng.integers(0, 9, size=(half, N_TC))))
    sparse = rng.integers(0, top + 1, size=(half, N_TC)) * (rng.random((half, N_TC)) < 0.1)
    blocks.append(("sparse random codes", sparse))
    parts = []
    for name, codes in blocks:
        # every corner case in every mode
        for mode in design.elink_modes:
            parts.append(VectorSet(codes, np.full(len(codes), mode.elinks), ((f"{name}, {mode.elinks} "
                                                                              "e-links", len(codes)),)))
    return VectorSet.concat(parts)


def standard_vectors(design: Design, per_region: int = 2000, seed: int = 7,
                     random_rows: int = 2000) -> VectorSet:
    return VectorSet.concat([corner_vectors(design, seed, random_rows),
                             region_vectors(design, per_region, seed)])


def tie_weights(design: Design, seed: int) -> WeightSet:
    """Weights of +-1/2 and +-1/4 and zero: many accumulators land exactly on a rounding tie."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for t in design.tensors:
        half, quarter = t.type.scale // 2, t.type.scale // 4
        arrays[t.name] = rng.choice([-half, -quarter, 0, 0, quarter, half], size=t.shape)
    return WeightSet.from_arrays(design, arrays)


# -- vector files shared with the C++ and HDL testbenches ------------------------------------


def pack_rows(values: np.ndarray, bits: int) -> list[int]:
    """Row r of `values` as one integer: element i at bits i*bits .. i*bits+bits-1."""
    values = np.asarray(values, dtype=np.int64)
    rows, count = values.shape
    planes = ((values[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(rows, count * bits)
    packed = np.packbits(planes, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def expected_words(design: Design, weights: WeightSet, codes: np.ndarray, elinks: int) -> list[int]:
    """{sum code, output 15 .. output 0} of every module, as the bit-exact model computes it."""
    outputs = golden.run(design, weights, codes, elinks)
    out_width = design.output_type.bits * design.n_outputs
    outs = pack_rows(outputs.out, design.output_type.bits)
    return [(int(s) << out_width) | o for s, o in zip(outputs.sum_code.tolist(), outs, strict=True)]


def write_vector_files(directory: Path, vectors: VectorSet, expected: Outputs) -> None:
    """`stimulus.txt`: mode then 48 codes per line; `expected.txt`: sum code then 16 outputs."""

    stim = np.column_stack([vectors.elinks, vectors.codes])
    exp = np.column_stack([expected.sum_code, expected.out])
    write_text(directory / "stimulus.txt", table_text(stim))
    write_text(directory / "expected.txt", table_text(exp))


def table_text(table: np.ndarray) -> str:
    return "".join(" ".join(map(str, row)) + "\n" for row in table.tolist())


def read_table(path: Path, columns: int) -> np.ndarray:
    """A whitespace-separated integer table, with the file and line of any bad row."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        words = line.split()
        if len(words) != columns:
            raise ConfigError(f"{path}:{number}: expected {columns} integers, found {len(words)}")
        try:
            rows.append([int(w) for w in words])
        except ValueError:
            raise ConfigError(f"{path}:{number}: not an integer row: {line.strip()!r}") from None
    return np.array(rows, dtype=np.int64).reshape(-1, columns)
