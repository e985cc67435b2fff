"""The weight image and its companions: binary, hex, I2C transactions, register map.

One call writes everything a slow-control system and a reviewer need for one
trained network, all derived from the `Design` and the `RegisterMap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asicgen import __version__
from asicgen.core import naming
from asicgen.core.artefacts import WeightImage
from asicgen.core.design import Design
from asicgen.core.i2c import (
    DEFAULT_BURST,
    DEFAULT_DEVICE_ADDRESS,
    DEFAULT_GLITCH_FILTER,
    RESET_IGNORE_CLOCKS,
    SYNC_STAGES,
    Write,
    format_transactions,
    image_writes,
)
from asicgen.core.outputs import IMAGE_KIND
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import ACCESS, RegisterMap
from asicgen.core.render import Stamp, environment, render, write_tree
from asicgen.core.weights import WeightSet

#: SCL cycles per byte on the bus: 8 data bits + ACK
BYTE_CYCLES = 9
#: per transaction: device address and two register address bytes (with ACK), and the SCL
#: rising edge before STOP; START has no SCL edge of its own
TRANSACTION_OVERHEAD_CYCLES = 3 * BYTE_CYCLES + 1


@dataclass(frozen=True)
class ImageFiles:
    files: dict[str, str | bytes]
    writes: list[Write]


def program_cycles(writes: list[Write]) -> int:
    """SCL cycles (rising edges) to replay `writes`: address bytes, data bytes with ACK, STOP."""
    return sum(TRANSACTION_OVERHEAD_CYCLES + BYTE_CYCLES * len(w.data) for w in writes)


def transactions(weights: WeightSet, elinks: int | None, burst: int = DEFAULT_BURST) -> list[Write]:
    regmap = RegisterMap.for_design(weights.design)
    writes = image_writes(weights.image(), regmap.weights.base, burst)
    if elinks is not None:
        weights.design.elink_mode(elinks)
        writes.append(Write(regmap.register("ELINK_MODE").address, bytes([elinks])))
    return writes


def hex_text(image: bytes, stamp: Stamp, name: str) -> str:
    """One byte per line: readable by $readmemh and by the C++ testbench."""
    return stamp.header(name) + "".join(f"{b:02x}\n" for b in image)


def regmap_markdown(weights_design, stamp: Stamp, burst: int = DEFAULT_BURST) -> str:
    design = weights_design
    regmap = RegisterMap.for_design(design)
    bits_per_word = design.weight_bits
    tensors = [{"name": t.name, "shape": "x".join(map(str, t.shape)), "first": t.first_word,
                "last": t.first_word + t.size - 1, "first_byte": t.first_word * bits_per_word // 8,
                "type": naming.ac_fixed(t.type)} for t in design.tensors]
    registers = [{"name": r.name, "address": r.address,
                  "fields": [{"name": f.name, "bits": f"{f.msb}:{f.lsb}" if f.width > 1 else str(f.lsb),
                              "access": f.access, "reset": f.reset, "description": f.description}
                             for f in r.fields]} for r in regmap.registers]
    cycles = program_cycles(image_writes(bytes(regmap.weights.n_bytes), 0, burst))
    return render(environment("docs"), "regmap.md.j2", stamp, "regmap.md",
                  top=naming.TOP, design_summary=design.summary(), window=regmap.weights,
                  tensors=tensors, weight_scale=design.conv.weight_type.scale, registers=registers,
                  access=ACCESS, elink_values=", ".join(str(m.elinks) for m in design.elink_modes),
                  burst=burst, program_bits=cycles, program_ms_400=f"{cycles / 400e3 * 1e3:.1f}",
                  program_ms_1000=f"{cycles / 1e6 * 1e3:.1f}", sync_stages=SYNC_STAGES,
                  glitch_filter=DEFAULT_GLITCH_FILTER, reset_ignore_clocks=RESET_IGNORE_CLOCKS,
                  reset_ignore_ns=f"{RESET_IGNORE_CLOCKS * naming.CLOCK_PERIOD_NS:g}",
                  clock_mhz=naming.CLOCK_MHZ)


def image_files(weights: WeightSet, elinks: int | None, command: str,
                device_address: int = DEFAULT_DEVICE_ADDRESS, burst: int = DEFAULT_BURST) -> ImageFiles:
    design = weights.design
    stamp = Stamp(f"Weight image: {design.summary()}; weights sha256 {weights.digest()}",
                  weights.digest(), command)
    writes = transactions(weights, elinks, burst)
    header = stamp.lines() + [f"{len(writes)} write transactions, {program_cycles(writes)} SCL cycles"]
    files: dict[str, str | bytes] = {
        "weights.bin": weights.image(),
        "weights.hex": hex_text(weights.image(), stamp, "weights.hex"),
        "weights_i2c.txt": format_transactions(writes, device_address, header),
        "regmap.md": regmap_markdown(design, Stamp(f"Register map: {design.summary()}", design.digest(),
                                                   command), burst),
    }
    return ImageFiles(files, writes)


def write_image(out_dir: Path, weights: WeightSet, elinks: int | None, command: str,
                device_address: int = DEFAULT_DEVICE_ADDRESS, burst: int = DEFAULT_BURST,
                force: bool = False) -> ImageFiles:
    result = image_files(weights, elinks, command, device_address, burst)
    manifest = {"tool": f"asicgen {__version__}", "kind": IMAGE_KIND, "design": weights.design.to_raw(),
                "weights_sha256": weights.digest(), "elinks": elinks, "command": command}
    write_tree(out_dir, result.files, manifest, force)
    return result


# -- reading an image back -------------------------------------------------------------

IMAGE_FILE = "weights.bin"


@dataclass(frozen=True)
class Image:
    """The image a chip should hold: its design, weights and programmed e-link mode."""

    design: Design
    weights: WeightSet
    elinks: int | None
    source: Path


def load_image(path: Path) -> Image:
    """An `asicgen image`/`generate` weight image: its folder (or its weights.bin) with the manifest."""
    folder = path if path.is_dir() else path.parent
    if not (folder / IMAGE_FILE).is_file() and (folder / "image" / IMAGE_FILE).is_file():
        folder = folder / "image"  # the output folder of `asicgen generate`
    found = WeightImage.open(folder)
    design = found.design
    try:
        image = (folder / IMAGE_FILE).read_bytes()
    except OSError as err:
        raise ConfigError(f"{folder / IMAGE_FILE}: cannot read the image ({err.strerror})") from err
    weights = WeightSet.from_image(design, image)
    return Image(design, weights, found.elinks, folder)
