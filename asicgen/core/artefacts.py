"""The folders asicgen commands pass to one another, as typed objects.

Every output folder carries a `manifest.json` (`asicgen.core.outputs`): its kind, the tool
that wrote it, the command that made it, and the sha256 of every file. This module is the
only reader of those manifests and of the result files between stages (a training run's
`metrics.json`, a synthesis report's `synth.json`): each kind of folder has one class that
opens it, checks its kind and fields and says where a foreign or damaged folder is wrong.

An *IP* is any folder that holds a generated RTL tree (`rtl/`), optionally its hardened
`ae_top` (`rtl_tmr/`), weight image (`image/`) and HLS project (`hls/`): the folder of
`asicgen generate` and the folder of `asicgen flow` are both IPs, so every daily job
(regress, region retrain, report, seu-rate, synth) takes either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from asicgen.core.design import Design
from asicgen.core.outputs import (
    FLOW_KIND,
    GENERATE_KIND,
    HLS_KIND,
    IMAGE_KIND,
    MANIFEST,
    RTL_KIND,
    RTL_TMR_KIND,
    SCHEMA,
    SYNTH_KIND,
    TRAIN_KIND,
    changed_files,
    read_manifest,
)
from asicgen.core.raw import ConfigError

METRICS_FILE = "metrics.json"
SYNTH_FILE = "synth.json"
TMR_REPORT_FILE = "tmr_report.json"
#: where an IP keeps its parts
IP_PARTS = {"rtl": "rtl", "hardened": "rtl_tmr", "image": "image", "hls": "hls"}
#: the commands that write each kind, for the errors that name them
WRITERS = {TRAIN_KIND: "asicgen train", IMAGE_KIND: "asicgen image", HLS_KIND: "asicgen hls",
           RTL_KIND: "asicgen generate", RTL_TMR_KIND: "asicgen generate --tmr",
           GENERATE_KIND: "asicgen generate", FLOW_KIND: "asicgen flow", SYNTH_KIND: "asicgen synth"}


class ArtefactError(ConfigError):
    """A folder that is not the asicgen output a command expects, or one that was damaged."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as err:
        raise ArtefactError(f"{path}: cannot read ({err.strerror})") from None
    except ValueError as err:
        raise ArtefactError(f"{path}: not valid JSON ({err})") from None


def _typed(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str,
           default: Any = ..., ) -> Any:
    if key not in raw:
        if default is ...:
            raise ArtefactError(f"{where}: no {key!r} field (the file is damaged or from another tool)")
        return default
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ArtefactError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Manifest:
    """The manifest of one output folder."""

    path: Path
    kind: str
    tool: str
    files: Mapping[str, str]
    command: str | None
    raw: Mapping[str, Any]

    @classmethod
    def find(cls, folder: Path) -> Manifest | None:
        """The manifest of a folder asicgen wrote, or None (no manifest, or not asicgen's)."""
        raw = read_manifest(Path(folder))
        if raw is None:
            return None
        where = str(Path(folder) / MANIFEST)
        schema = raw.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA:
            raise ArtefactError(f"{where}: manifest schema {schema!r}, newer than this asicgen reads "
                                f"({SCHEMA}); use the asicgen version that wrote it ({raw['tool']})")
        command = raw.get("command")
        return cls(Path(folder) / MANIFEST, raw["kind"], raw["tool"], dict(raw["files"]),
                   command if isinstance(command, str) else None, raw)

    def field(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        return _typed(self.raw, key, kind, str(self.path), default)

    def design(self) -> Design:
        return Design.from_raw(self.field("design", dict), f"{self.path}: design")


A = TypeVar("A", bound="Artefact")


@dataclass(frozen=True)
class Artefact:
    """An asicgen output folder of one of `KINDS`."""

    folder: Path
    manifest: Manifest
    #: the kinds this class opens (empty: any asicgen output)
    KINDS: ClassVar[tuple[str, ...]] = ()
    WHAT: ClassVar[str] = "an asicgen output folder"

    @classmethod
    def open(cls: type[A], folder: Path) -> A:
        folder = Path(folder)
        if not folder.is_dir():
            raise ArtefactError(f"{folder}: no such folder; expected {cls.WHAT}")
        manifest = Manifest.find(folder)
        if manifest is None:
            raise ArtefactError(f"{folder}: not {cls.WHAT} (no asicgen {MANIFEST}); {cls._hint()}")
        if cls.KINDS and manifest.kind not in cls.KINDS:
            raise ArtefactError(f"{folder}: holds an asicgen {manifest.kind!r} output "
                                f"({WRITERS.get(manifest.kind, 'asicgen')}), not {cls.WHAT}; {cls._hint()}")
        return cls._load(folder, manifest)

    @classmethod
    def find(cls: type[A], folder: Path) -> A | None:
        """The artefact at `folder`, or None where there is no asicgen output of these kinds."""
        manifest = Manifest.find(folder) if Path(folder).is_dir() else None
        if manifest is None or (cls.KINDS and manifest.kind not in cls.KINDS):
            return None
        return cls._load(Path(folder), manifest)

    @classmethod
    def _load(cls: type[A], folder: Path, manifest: Manifest) -> A:
        return cls(folder, manifest)

    @classmethod
    def _hint(cls) -> str:
        if not cls.KINDS:
            return "write it with an asicgen command"
        return "write one with " + " or ".join(f"`{WRITERS[k]}`" for k in cls.KINDS)

    @property
    def command(self) -> str | None:
        return self.manifest.command

    def file_names(self) -> list[str]:
        return sorted(self.manifest.files)

    def changed_files(self) -> list[str]:
        """Files its manifest lists that are missing or hold other bytes."""
        return changed_files(self.folder, self.manifest.files)


@dataclass(frozen=True)
class RtlTree(Artefact):
    """Generated SystemVerilog (`asicgen generate`'s rtl/): ae_top and its submodules."""

    design: Design | None = None
    dot_structure: str = ""
    file_order: tuple[str, ...] = ()
    KINDS: ClassVar[tuple[str, ...]] = (RTL_KIND,)
    WHAT: ClassVar[str] = "an RTL tree written by asicgen"

    @classmethod
    def _load(cls, folder: Path, manifest: Manifest) -> RtlTree:
        order = tuple(manifest.field("file_order", list))
        return cls(folder, manifest, manifest.design(), manifest.field("dot_structure", str, "chain"), order)

    @property
    def sources(self) -> list[Path]:
        return [self.folder / name for name in self.file_order]


@dataclass(frozen=True)
class HardenedRtl(RtlTree):
    """The TMR-hardened ae_top (`rtl_tmr/`): ae_top.v, its TMR report and placement."""

    KINDS: ClassVar[tuple[str, ...]] = (RTL_TMR_KIND,)
    WHAT: ClassVar[str] = "a hardened RTL tree (rtl_tmr) written by asicgen"

    @property
    def tmr_report(self) -> Path:
        return self.folder / TMR_REPORT_FILE


@dataclass(frozen=True)
class WeightImage(Artefact):
    """A weight image (`asicgen image`): weights.bin/.hex, I2C transactions, register map."""

    design: Design | None = None
    elinks: int | None = None
    KINDS: ClassVar[tuple[str, ...]] = (IMAGE_KIND,)
    WHAT: ClassVar[str] = "a weight image written by asicgen"

    @classmethod
    def _load(cls, folder: Path, manifest: Manifest) -> WeightImage:
        return cls(folder, manifest, manifest.design(), manifest.field("elinks", (int, type(None)), None))


@dataclass(frozen=True)
class HlsProject(Artefact):
    """An HLS C++ project (`asicgen hls`): sources, testbench, stimulus and expected output."""

    design: Design | None = None
    weights_sha256: str = ""
    KINDS: ClassVar[tuple[str, ...]] = (HLS_KIND,)
    WHAT: ClassVar[str] = "an HLS project written by asicgen"

    @classmethod
    def _load(cls, folder: Path, manifest: Manifest) -> HlsProject:
        return cls(folder, manifest, manifest.design(), manifest.field("weights_sha256", str))


@dataclass(frozen=True)
class EmdSummary:
    """EMD of one method in one occupancy bin (None where the bin is empty)."""

    median: float
    low68: float
    high68: float
    count: int

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> EmdSummary | None:
        if not raw or not raw.get("count"):
            return None
        median, low, high = (float(_typed(raw, key, (int, float), where))
                             for key in ("median", "low68", "high68"))
        return cls(median, low, high, _typed(raw, "count", int, where))


@dataclass(frozen=True)
class TrainMetrics:
    """`metrics.json` of a training run: what the report and the sweep summary show."""

    region: str
    elinks: int
    output_bits: int
    budget_bits: int
    seed: int
    training_modules: int
    scored_modules: int
    epochs_run: int
    train_seconds: float
    weights_sha256: str
    #: per method (autoencoder first), per occupancy bin ("all" included): its EMD
    emd: Mapping[str, Mapping[str, EmdSummary | None]]
    history: Mapping[str, list[float]]

    @classmethod
    def read(cls, path: Path) -> TrainMetrics:
        raw, where = _read_json(path), str(path)
        if not isinstance(raw, dict):
            raise ArtefactError(f"{where}: expected an object")
        modules = _typed(raw, "modules", dict, where)
        settings = _typed(raw, "settings", dict, where)
        emd = {method: {name: EmdSummary.from_raw(summary, f"{where}.emd.{method}.{name}")
                        for name, summary in _typed(raw["emd"], method, dict, f"{where}.emd").items()}
               for method in _typed(raw, "emd", dict, where)}
        if "autoencoder" not in emd:
            raise ArtefactError(f"{where}.emd: no autoencoder figures")
        return cls(_typed(raw, "region", str, where), _typed(raw, "elinks", int, where),
                   _typed(raw, "output_bits", int, where), _typed(raw, "budget_bits", int, where),
                   _typed(settings, "seed", int, f"{where}.settings"),
                   _typed(modules, "training", int, f"{where}.modules"),
                   _typed(modules, "scored", int, f"{where}.modules"), _typed(raw, "epochs_run", int, where),
                   float(_typed(raw, "train_seconds", (int, float), where)),
                   _typed(raw, "weights_sha256", str, where), emd, _typed(raw, "history", dict, where, {}))

    @property
    def median_emd(self) -> float:
        summary = self.emd["autoencoder"].get("all")
        return summary.median if summary is not None else float("nan")


@dataclass(frozen=True)
class TrainRun(Artefact):
    """A training run (`asicgen train`): QKeras model, weights.json, metrics.json, plots."""

    KINDS: ClassVar[tuple[str, ...]] = (TRAIN_KIND,)
    WHAT: ClassVar[str] = "a training run written by asicgen"

    def metrics(self) -> TrainMetrics:
        return TrainMetrics.read(self.folder / METRICS_FILE)

    def plot(self, name: str) -> bytes | None:
        path = self.folder / "plots" / name
        return path.read_bytes() if path.is_file() else None


@dataclass(frozen=True)
class Ip(Artefact):
    """A chip's IP: the folder of `asicgen generate` or `asicgen flow`, holding rtl/ and
    optionally rtl_tmr/, image/ and hls/, each with its own manifest."""

    rtl: RtlTree | None = None
    hardened: HardenedRtl | None = None
    image: WeightImage | None = None
    hls: HlsProject | None = None
    KINDS: ClassVar[tuple[str, ...]] = (GENERATE_KIND, FLOW_KIND)
    WHAT: ClassVar[str] = "an IP (the output folder of `asicgen generate` or `asicgen flow`)"

    @classmethod
    def open(cls, folder: Path) -> Ip:
        try:
            return super().open(folder)
        except ArtefactError as err:
            # a common slip: the IP's rtl/ (or image/, ...) given instead of the IP itself
            folder = Path(folder)
            parent = Manifest.find(folder.parent) if folder.name in IP_PARTS.values() else None
            if parent is not None and parent.kind in Ip.KINDS:
                raise ArtefactError(f"{folder} is the {folder.name}/ part of an IP: give the IP's folder, "
                                    f"{folder.parent}") from err
            raise

    @classmethod
    def _load(cls, folder: Path, manifest: Manifest) -> Ip:
        rtl = RtlTree.find(folder / IP_PARTS["rtl"])
        if rtl is None:
            raise ArtefactError(f"{folder}: the IP has no generated RTL ({IP_PARTS['rtl']}/ with its "
                                f"{MANIFEST}); the run that wrote it did not get that far")
        return cls(folder, manifest, rtl, HardenedRtl.find(folder / IP_PARTS["hardened"]),
                   WeightImage.find(folder / IP_PARTS["image"]), HlsProject.find(folder / IP_PARTS["hls"]))

    @property
    def design(self) -> Design:
        assert self.rtl is not None and self.rtl.design is not None
        return self.rtl.design

    def rtl_sha256(self) -> dict[str, str]:
        """sha256 of every RTL file, by its path in the IP."""
        prefix = IP_PARTS["rtl"] + "/"
        return {name: digest for name, digest in self.manifest.files.items() if name.startswith(prefix)}

    def changed_rtl(self) -> list[str]:
        """RTL files that are missing or differ from the sha256 the IP's manifest lists."""
        return changed_files(self.folder, self.rtl_sha256())

    def require_image(self) -> WeightImage:
        if self.image is None:
            raise ArtefactError(f"{self.folder}: the IP has no weight image ({IP_PARTS['image']}/)")
        return self.image

    def check_unchanged(self) -> None:
        changed = self.changed_files()
        if changed:
            raise ArtefactError(f"{self.folder}: files differ from the IP's {MANIFEST} (edited or missing): "
                                f"{', '.join(changed)}; it is not the IP that was generated")


@dataclass(frozen=True)
class FlowStage:
    stage: str
    ok: bool | None
    seconds: float
    result: str


@dataclass(frozen=True)
class FlowFolder(Ip):
    """The folder of `asicgen flow`: an IP plus its training run, upset rates, report and the
    stage log."""

    KINDS: ClassVar[tuple[str, ...]] = (FLOW_KIND,)
    WHAT: ClassVar[str] = "a flow folder (the output folder of `asicgen flow`)"

    @classmethod
    def read_log(cls, folder: Path) -> FlowFolder:
        """The flow folder with its stage log only: also a flow that stopped before the RTL."""
        manifest = Manifest.find(folder)
        if manifest is None or manifest.kind != FLOW_KIND:
            raise ArtefactError(f"{folder}: not {cls.WHAT}")
        return cls(folder, manifest)

    @property
    def status(self) -> str:
        return self.manifest.field("status", str, "unknown")

    @property
    def region(self) -> str | None:
        return self.manifest.field("region", (str, type(None)), None)

    def stages(self) -> list[FlowStage]:
        where = str(self.manifest.path)
        return [FlowStage(_typed(s, "stage", str, where), _typed(s, "ok", (bool, type(None)), where),
                          float(_typed(s, "seconds", (int, float), where)),
                          _typed(s, "result", (str, type(None)), where, "") or "")
                for s in self.manifest.field("stages", list, [])]

    def train_run(self) -> TrainRun | None:
        return TrainRun.find(self.folder / "train")


@dataclass(frozen=True)
class SynthRow:
    """One synthesised build of `synth.json`."""

    ii: int
    build: str
    dot_structure: str
    flops: int
    library: str | None
    area_um2: float | None
    nand2_eq: float | None
    gate_equivalents: float | None
    arrival_ns: float | None
    slack_ns: float | None
    power_w: float | None
    energy_nj: float | None

    @classmethod
    def from_raw(cls, raw: Any, where: str) -> SynthRow:
        if not isinstance(raw, dict):
            raise ArtefactError(f"{where}: expected an object")
        sta = raw.get("sta") or {}
        timing, power = sta.get("timing") or {}, sta.get("power") or {}

        def number(table: Mapping[str, Any], key: str) -> float | None:
            value = table.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        return cls(_typed(raw, "ii", int, where), _typed(raw, "build", str, where, "plain"),
                   _typed(raw, "dot_structure", str, where, "-"), _typed(raw, "flops", int, where),
                   raw.get("library") or None, number(raw, "area_um2"), number(raw, "nand2_eq"),
                   number(raw, "ge"), number(timing, "arrival_ns"), number(timing, "slack_ns"),
                   number(power, "total_w"), number(raw, "energy_nj"))


@dataclass(frozen=True)
class SynthReport(Artefact):
    """A synthesis report folder (`asicgen synth`): synth.md, synth.json, the netlists in work/."""

    design: Design | None = None
    rows: tuple[SynthRow, ...] = ()
    KINDS: ClassVar[tuple[str, ...]] = (SYNTH_KIND,)
    WHAT: ClassVar[str] = "a synthesis report written by `asicgen synth`"

    @classmethod
    def _load(cls, folder: Path, manifest: Manifest) -> SynthReport:
        path = folder / SYNTH_FILE
        raw = _read_json(path)
        if not isinstance(raw, dict):
            raise ArtefactError(f"{path}: expected an object")
        design = Design.from_raw(_typed(raw, "design", dict, str(path)), f"{path}: design")
        rows = tuple(SynthRow.from_raw(r, f"{path}: results[{i}]")
                     for i, r in enumerate(_typed(raw, "results", list, str(path))))
        return cls(folder, manifest, design, rows)

    @property
    def report_file(self) -> Path:
        return self.folder / SYNTH_FILE

