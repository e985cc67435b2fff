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
from dataclasses import InitVar, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design, TensorSpec
from asicgen.core.raw import ConfigError, check_keys

WEIGHTS_FORMAT = "asicgen-weights/1"
#: the tensors of a weights file, in register order (SPEC section 8)
TENSOR_ORDER = ("conv_kernel", "conv_bias", "dense_kernel", "dense_bias")


def tensors_digest(tensors: Mapping[str, np.ndarray]) -> str:
    """sha256 over integer tensors in name order, as `weights.json` records it."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensors[name], dtype=np.int64).tobytes())
    return digest.hexdigest()


def weights_document(arch: EncoderArch, tensors: Mapping[str, np.ndarray], *, tool: str, region: str,
                     elinks: int, seed: int) -> dict[str, Any]:
    """The content of `weights.json` (read back by `load_weights_file`): the integer tensors of a
    network of `arch` and where they came from."""
    wt = arch.weight_type
    return {
        "format": WEIGHTS_FORMAT,
        "tool": tool,
        "region": region,
        "elinks": elinks,
        "seed": seed,
        "architecture": arch.to_raw(),
        "weight_type": {"bits": wt.bits, "integer_bits": wt.integer_bits, "signed": wt.signed,
                        "value": f"integer / {wt.scale}"},
        "order": list(TENSOR_ORDER),
        "tensors": {name: {"shape": list(arr.shape), "values": arr.reshape(-1).tolist()}
                    for name, arr in tensors.items()},
        "sha256": tensors_digest(tensors),
    }


@dataclass(frozen=True)
class WeightSet:
    """Checked on construction, whichever way it is built: `WeightSet(design, tensors)`
    and every classmethod hold read-only int64 codes that fit their register fields."""

    design: Design
    tensors: Mapping[str, np.ndarray]
    #: names the source in error messages (e.g. a weights file); not stored
    where: InitVar[str] = "weights"

    def __post_init__(self, where: str) -> None:
        object.__setattr__(self, "tensors", _checked_tensors(self.design, self.tensors, where))

    @classmethod
    def from_arrays(cls, design: Design, arrays: Mapping[str, Any], where: str = "weights") -> WeightSet:
        return cls(design, arrays, where)

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
        return tensors_digest(self.tensors)

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


def _checked_tensors(design: Design, arrays: Mapping[str, Any], where: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping):
        raise ConfigError(f"{where}: expected a mapping of tensor name to codes, got {type(arrays).__name__}")
    expected = {t.name for t in design.tensors}
    unknown = set(arrays) - expected
    missing = expected - set(arrays)
    if unknown or missing:
        raise ConfigError(f"{where}: tensors must be exactly {', '.join(t.name for t in design.tensors)}"
                          + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
                          + (f"; missing: {', '.join(sorted(missing))}" if missing else ""))
    return {spec.name: _checked_codes(spec, np.asarray(arrays[spec.name]), f"{where}.{spec.name}")
            for spec in design.tensors}


def _checked_codes(spec: TensorSpec, value: np.ndarray, where: str) -> np.ndarray:
    """One tensor as read-only int64 codes. Every check runs on the values as given: a
    cast to int64 first would turn inf into -2^63 and 3.5 into 3."""
    t = spec.type
    field = f"its {t.bits}-bit register field ({t.min_code}..{t.max_code})"
    if value.shape != spec.shape:
        raise ConfigError(f"{where}: shape {value.shape} does not match the architecture's {spec.shape}")
    if value.dtype.kind not in "iuf":
        raise ConfigError(f"{where}: expected integer codes (value * {t.scale}), got {value.dtype} values")
    if value.dtype.kind == "f":
        _refuse(where, value, ~np.isfinite(value), "value {} is not a finite number; weights are "
                f"integer codes (value * {t.scale}) that fit {field}")
        _refuse(where, value, value != np.rint(value),
                f"value {{}} is not an integer code (value * {t.scale}); weights must fit {field}")
    _refuse(where, value, (value < t.min_code) | (value > t.max_code), f"code {{}} does not fit {field}")
    codes = value.astype(np.int64)
    codes.setflags(write=False)
    return codes


def _refuse(where: str, value: np.ndarray, bad: np.ndarray, problem: str) -> None:
    """Name the first offending value (`{}` in `problem`), its index and how many there are."""
    if not np.any(bad):
        return
    first = int(np.flatnonzero(bad)[0])
    index = list(map(int, np.unravel_index(first, value.shape)))
    shown = value.flat[first].item()
    shown = int(shown) if isinstance(shown, float) and shown.is_integer() else shown
    raise ConfigError(f"{where}{index}: {problem.format(shown)}; "
                      f"{np.count_nonzero(bad)} such value(s)")


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
            # no dtype here: a cast would truncate 3.7 to 3 before WeightSet could refuse it
            arrays[name] = np.asarray(t["values"]).reshape(t["shape"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.tensors.{name}: values do not form shape {t['shape']}: "
                              f"{exc}") from None
    weights = WeightSet.from_arrays(design, arrays, f"{where}.tensors")
    if "sha256" in data and data["sha256"] != weights.digest():
        raise ConfigError(f"{where}.sha256: the recorded hash does not match the tensors (edited or "
                          "corrupted file)")
    elinks = data.get("elinks")
    return WeightsFile(weights, data.get("region"), elinks if isinstance(elinks, int) else None, Path(path))
