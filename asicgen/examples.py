"""The checked-in reference outputs under `examples/`, and how to regenerate them.

`examples/default/` holds what `asicgen generate` writes (RTL, weight image with
its I2C transactions and register map, HLS project with a short set of test
vectors) for one fixed configuration:
the default architecture at the default II, with seeded random weights and the
default region's e-link mode. `tests/test_examples.py` regenerates it and fails
on any byte difference, so a change to a generator shows up in review as a diff of
these files, and a change that was not meant to alter the output fails CI.

Every stamp records `COMMAND`, not the command line of whoever regenerated the
files: the same command from the script and from the test gives the same bytes.

    python -m asicgen.examples [DEST]     # default DEST: examples/default beside asicgen/
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asicgen.core.arch import EncoderArch
from asicgen.core.artefacts import Artefact
from asicgen.core.design import Design
from asicgen.core.image import write_image
from asicgen.core.outputs import GENERATE_KIND, staged_folder, write_manifest
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet
from asicgen.hls import generate_hls
from asicgen.rtl import generate_rtl
from training.regions import DEFAULT_REGION, preset
from verif.vectors import standard_vectors

#: the command the stamps name: it rewrites examples/default from the repository root
COMMAND = "scripts/regen-examples"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEST = ROOT / "examples" / "default"

#: the parts of an `asicgen generate` folder written here (not rtl_tmr: hardening takes minutes)
PARTS = ("rtl", "image", "hls")
ARCH = "default"
II = 1
#: test vectors the HLS project ships: the same corner cases and regions as `asicgen hls`, fewer
#: random rows (its 250 modules per region and 2000 random rows would make the folder 3.4 MB)
VECTORS_PER_REGION = 10
RANDOM_ROWS = 10
#: seed of `numpy.random.default_rng` drawing every weight uniformly over its register field
WEIGHTS_SEED = 2024


def reference_weights() -> WeightSet:
    """The weights of the reference configuration: no training, the same on every machine."""
    design = Design.build(EncoderArch.preset(ARCH), II)
    return WeightSet.random(design, np.random.default_rng(WEIGHTS_SEED))


def reference_region() -> tuple[str, int]:
    """The default region and its e-link mode, which the weight image programs after the weights."""

    return DEFAULT_REGION, preset(DEFAULT_REGION).elinks


def regenerate(dest: Path = DEFAULT_DEST) -> Path:
    """Write the reference configuration to `dest`, replacing an earlier copy whole.

    Laid out as `asicgen generate --out dest` lays out its folder (rtl/, image/, hls/,
    manifest.json). The folder is staged beside `dest` and swapped in at the end, so a
    file no generator writes any more disappears, and a file someone added by hand makes
    the call refuse instead of deleting it."""
    weights = reference_weights()
    region, elinks = reference_region()
    with staged_folder(Path(dest), GENERATE_KIND) as stage:
        generate_rtl(stage / "rtl", weights.design, COMMAND)
        write_image(stage / "image", weights, elinks, COMMAND)
        vectors = standard_vectors(weights.design, VECTORS_PER_REGION, random_rows=RANDOM_ROWS)
        generate_hls(stage / "hls", weights, COMMAND, vectors)
        write_manifest(stage, GENERATE_KIND, _manifest(stage, weights, region, elinks))
    return Path(dest)


def _manifest(stage: Path, weights: WeightSet, region: str, elinks: int) -> dict[str, Any]:
    """The fields `asicgen generate` records, with the seeded weights named as the source
    (a path would differ between a checkout and the test's temporary folder)."""
    design = weights.design
    parts = {name: {"directory": name, "files": _listed(stage / name)} for name in PARTS}
    return {"command": COMMAND, "source": f"WeightSet.random(numpy.random.default_rng({WEIGHTS_SEED}))",
            "region": region, "elinks": elinks, "design": design.to_raw(), "design_sha256": design.digest(),
            "weights_sha256": weights.digest(), "ii": design.ii, "latency": design.latency, "parts": parts}


def _listed(folder: Path) -> list[str]:
    return Artefact.open(folder).file_names()


def main(argv: Sequence[str] | None = None) -> int:

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print("usage: python -m asicgen.examples [DEST]  (default: examples/default)", file=sys.stderr)
        return 2
    dest = Path(args[0]) if args else DEFAULT_DEST
    try:
        regenerate(dest)
    except ConfigError as exc:
        print(f"asicgen.examples: error: {exc}", file=sys.stderr)
        return 2
    print(f"regenerated the reference outputs in {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
