"""Integer weights of one trained network, and the weight image (SPEC section 8).

A `WeightSet` holds the weight tensors as integer codes (value * 2^frac), checked
against the `Design`: names, shapes and range. The image packs the words, in
register order, into one little-endian bit stream: word n occupies stream bits
6n..6n+5 (for 6-bit words), byte j holds stream bits 8j..8j+7. A weight that
does not fit its field is an error, never silently wrapped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asicgen.design import Design
from asicgen.raw import ConfigError, check_keys

WEIGHTS_FORMAT = "asicgen-weights/1"


@dataclass(frozen=True)
class WeightSet:
    design: Design
    tensors: Mapping[str, np.ndarray]

    @classmethod
    def from_arrays(cls, design: Design, arrays: Mapping[str, Any], where: str = "weights") -> WeightSet:
        expected = {t.name for t in design.tensors}
        unknown = set(arrays) - expected
        missing = expected - set(arrays)
        if unknown or missing:
            raise ConfigError(f"{where}: tensors must be exactly {', '.join(t.name for t in design.tensors)}"
                              + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
                              + (f"; missing: {', '.join(sorted(missing))}" if missing else ""))
        tensors = {}
        for spec in design.tensors:
            value = np.asarray(arrays[spec.name])
            if value.shape != spec.shape:
                raise ConfigError(f"{where}.{spec.name}: shape {value.shape} does not match the "
                                  f"architecture's {spec.shape}")
            if value.dtype.kind not in "iu" and not np.array_equal(value, np.rint(value)):
                raise ConfigError(f"{where}.{spec.name}: weights must be integer codes (value * "
                                  f"{spec.type.scale})")
            codes = value.astype(np.int64)
            bad = np.flatnonzero((codes < spec.type.min_code) | (codes > spec.type.max_code))
            if bad.size:
                index = np.unravel_index(bad[0], spec.shape)
                raise ConfigError(
                    f"{where}.{spec.name}{list(map(int, index))}: code {int(codes.flat[bad[0]])} does not "
                    f"fit its {spec.type.bits}-bit register field ({spec.type.min_code}.."
                    f"{spec.type.max_code}); {bad.size} value(s) out of range")
            codes.setflags(write=False)
            tensors[spec.name] = codes
        return cls(design, tensors)

    @classmethod
    def zeros(cls, design: Design) -> WeightSet:
        return cls.from_arrays(design, {t.name: np.zeros(t.shape, np.int64) for t in design.tensors})

    @classmethod
    def random(cls, design: Design, rng: np.random.Generator) -> WeightSet:
        return cls.from_arrays(design, {
            t.name: rng.integers(t.type.min_code, t.type.max_code + 1, size=t.shape)
            for t in design.tensors})

    @classmethod
    def from_words(cls, design: Design, words: np.ndarray) -> WeightSet:
        words = np.asarray(words, dtype=np.int64)
        if words.shape != (design.n_weights,):
            raise ConfigError(f"expected {design.n_weights} weight words, got {words.size}")
        return cls.from_arrays(design, {
            t.name: words[t.first_word:t.first_word + t.size].reshape(t.shape) for t in design.tensors})

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def words(self) -> np.ndarray:
        """All weight codes in register order."""
        return np.concatenate([self.tensors[t.name].reshape(-1) for t in self.design.tensors])

    def digest(self) -> str:
        """sha256 over the tensors in name order, as `weights.json` records it."""
        digest = hashlib.sha256()
        for name in sorted(self.tensors):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(self.tensors[name], dtype=np.int64).tobytes())
        return digest.hexdigest()

    def equals(self, other: WeightSet) -> bool:
        return all(np.array_equal(self.tensors[t.name], other.tensors[t.name]) for t in self.design.tensors)

    # -- the image ----------------------------------------------------------------

    def image(self) -> bytes:
        return pack_words(self.words(), self.design.weight_bits)

    @classmethod
    def from_image(cls, design: Design, image: bytes) -> WeightSet:
        if len(image) != design.image_bytes:
            raise ConfigError(f"weight image has {len(image)} bytes; the architecture needs "
                              f"{design.image_bytes}")
        return cls.from_words(design, unpack_words(image, design.weight_bits, design.n_weights, signed=True))


def pack_words(words: np.ndarray, bits: int) -> bytes:
    """Signed or unsigned words -> little-endian bit stream, `bits` per word."""
    words = np.asarray(words, dtype=np.int64)
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    if words.size and (words.min() < lo or words.max() > hi):
        raise ConfigError(f"a word does not fit {bits} bits")
    fields = words & ((1 << bits) - 1)
    stream = ((fields[:, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    stream = np.concatenate([stream, np.zeros(-len(stream) % 8, np.uint8)])
    return np.packbits(stream.reshape(-1, 8), axis=1, bitorder="little").reshape(-1).tobytes()


def unpack_words(image: bytes, bits: int, count: int, signed: bool) -> np.ndarray:
    stream = np.unpackbits(np.frombuffer(image, dtype=np.uint8), bitorder="little")
    if len(stream) < bits * count:
        raise ConfigError(f"{len(image)} bytes cannot hold {count} words of {bits} bits")
    fields = stream[:bits * count].reshape(count, bits).astype(np.int64) << np.arange(bits)
    words = fields.sum(axis=1)
    if signed:
        words = words - ((words >> (bits - 1)) << bits)
    return words


# -- the weights file written by training -------------------------------------------


@dataclass(frozen=True)
class WeightsFile:
    """`weights.json`: the integer weights plus where they came from."""

    weights: WeightSet
    region: str | None
    elinks: int | None
    path: Path


def load_weights_file(path: Path, design: Design | None = None) -> WeightsFile:
    """Read `weights.json`; with `design`, it must describe that architecture."""
    from asicgen.arch import EncoderArch

    where = str(path)
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    data = check_keys(raw, where, {"format", "architecture", "tensors"},
                      {"tool", "region", "elinks", "seed", "weight_type", "order", "sha256"})
    if data["format"] != WEIGHTS_FORMAT:
        raise ConfigError(f"{where}.format: {data['format']!r} is not {WEIGHTS_FORMAT!r}")
    arch = EncoderArch.from_raw(data["architecture"], f"{where}.architecture")
    if design is None:
        design = Design.build(arch)
    elif arch != design.arch:
        raise ConfigError(f"{where}.architecture: the weights are for {arch}, not for the design's "
                          f"{design.arch}")
    tensors_raw = data["tensors"]
    if not isinstance(tensors_raw, dict):
        raise ConfigError(f"{where}.tensors: expected an object of tensors")
    arrays = {}
    for name, tensor in tensors_raw.items():
        t = check_keys(tensor, f"{where}.tensors.{name}", {"shape", "values"}, set())
        try:
            arrays[name] = np.asarray(t["values"], dtype=np.int64).reshape(t["shape"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.tensors.{name}: values do not form shape {t['shape']}: "
                              f"{exc}") from None
    weights = WeightSet.from_arrays(design, arrays, f"{where}.tensors")
    if "sha256" in data and data["sha256"] != weights.digest():
        raise ConfigError(f"{where}.sha256: the recorded hash does not match the tensors (edited or "
                          "corrupted file)")
    elinks = data.get("elinks")
    return WeightsFile(weights, data.get("region"), elinks if isinstance(elinks, int) else None, Path(path))
