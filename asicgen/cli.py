"""The `asicgen` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from asicgen import __version__
from asicgen.raw import ConfigError


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None,
                   help="region preset name or a .toml/.json region file "
                        "(default: the default region)")
    p.add_argument("--arch", choices=("default", "8x8"), default=None,
                   help="encoder architecture (default: 4x4x3, 2288 weights)")
    p.add_argument("--seed", type=int, default=None, help="random seed (data, split, training)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (early stopping)")
    p.add_argument("--modules", type=int, default=None, help="number of modules to use")
    p.add_argument("--loss", choices=("telescope", "mse"), default=None)
    p.add_argument("--eval-modules", type=int, default=None,
                   help="validation modules scored with EMD")


def _job(args: argparse.Namespace):
    from training.regions import DEFAULT_REGION
    from training.train import load_job, with_overrides

    job = load_job(args.region or DEFAULT_REGION, args.arch)
    return with_overrides(job, seed=args.seed, epochs=args.epochs, modules=args.modules,
                          loss=args.loss, eval_modules=args.eval_modules)


def cmd_train(args: argparse.Namespace) -> int:
    from training.train import train_region

    train_region(_job(args), Path(args.out))
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    """The longest part of the flow that exists: train (more stages will follow)."""
    from training.train import train_region

    out = Path(args.out)
    print(f"[flow] stage 1/1: train -> {out / 'train'}", file=sys.stderr)
    result = train_region(_job(args), out / "train")
    emd = result.metrics["emd"]
    print(f"[flow] done: region {result.metrics['region']}, median EMD autoencoder "
          f"{emd['autoencoder']['all']['median']:.4f}; artefacts in {out}", file=sys.stderr)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from training.data import generate
    from training.regions import DEFAULT_REGION, resolve_region

    region = resolve_region(args.region or DEFAULT_REGION)
    modules = generate(region, args.seed, args.modules)
    modules.save(Path(args.out))
    print(f"wrote {len(modules)} modules of region {region.name} to {args.out}", file=sys.stderr)
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from training.regions import DEFAULT_REGION, preset, preset_names

    for name in preset_names():
        region = preset(name)
        mark = " (default)" if name == DEFAULT_REGION else ""
        print(f"{name:14s} {region.elinks} e-links  {region.description}{mark}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asicgen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"asicgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train the encoder for a detector region")
    _add_train_arguments(p)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("flow", help="run the whole flow on the default region")
    _add_train_arguments(p)
    p.add_argument("--out", default="build/flow", help="output directory")
    p.set_defaults(func=cmd_flow)

    p = sub.add_parser("data", help="write synthetic modules of a region (.csv or .npz)")
    p.add_argument("--region", default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modules", type=int, default=None)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("regions", help="list the region presets")
    p.set_defaults(func=cmd_regions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from training.data import DataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DataError) as exc:
        print(f"asicgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asicgen: interrupted; no partial artefact was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
