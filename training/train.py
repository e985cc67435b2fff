"""Train the encoder for one detector region and write every artefact.

`train_region` is what `asicgen train` runs: data -> converter -> QKeras
autoencoder (with the region's e-link truncation) -> early-stopped training ->
evaluation (EMD of the autoencoder and of the baselines at the same bit budget,
overall and per occupancy bin) -> model files, integer weights, metrics, plots.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from asicgen import __version__
from asicgen.core.arch import EncoderArch
from asicgen.core.atomic import atomic_path, write_text
from asicgen.core.codec import decode_tc, encode_tc
from asicgen.core.design import drop_low_bits
from asicgen.core.normalise import convert_codes
from asicgen.core.outputs import TRAIN_KIND, check_folder_output, staged_folder, write_manifest
from asicgen.core.raw import ConfigError, check_keys, get_float, get_int, get_str, load_config_file
from asicgen.core.weights import tensors_digest, weights_document
from training.baselines import BASELINE_NAMES, budget_bits, make_baseline
from training.data import MAX_SEED, ModuleSet, region_modules, split
from training.losses import DEFAULT_SCALE_WEIGHTS, LOSS_NAMES
from training.metrics import emd_batch, summarise
from training.qkeras_import import quantised_integer_weights
from training.regions import Region, resolve_region

TARGET_NAMES = ("charges", "inputs")


@dataclass(frozen=True)
class TrainSettings:
    seed: int = 1
    epochs: int = 80
    batch_size: int = 128
    learning_rate: float = 3e-3
    patience: int = 12
    loss: str = "telescope"
    validation_fraction: float = 0.2
    #: modules to use (default: the region's own count)
    modules: int | None = None
    #: validation modules scored with EMD (the slow part of evaluation)
    eval_modules: int = 20_000
    #: telescope weight of each scale (tc, 2x2, 3x3, block); None = the loss's defaults
    loss_weights: dict[str, float] | None = None
    #: the decoder also reads the transmitted 9-bit module-sum code
    decoder_sum: bool = True
    #: what the decoder learns to reproduce: "charges" (the 48 charges the IP
    #: receives, the reference of the EMD) or "inputs" (the converter's 8-bit values)
    target: str = "charges"

    @classmethod
    def from_raw(cls, raw: Any, where: str = "training") -> TrainSettings:
        fields = set(cls.__dataclass_fields__)
        data = check_keys(raw, where, set(), fields)
        values = asdict(cls())
        for key in ("seed",):
            if key in data:
                values[key] = get_int(data, key, where, lo=0, hi=MAX_SEED)
        for key in ("epochs", "batch_size", "patience", "modules", "eval_modules"):
            if key in data:
                values[key] = get_int(data, key, where, lo=1)
        if "learning_rate" in data:
            values["learning_rate"] = get_float(data, "learning_rate", where, lo=1e-7, hi=1.0)
        if "validation_fraction" in data:
            values["validation_fraction"] = get_float(data, "validation_fraction", where,
                                                      lo=0.01, hi=0.9)
        if "loss" in data:
            values["loss"] = get_str(data, "loss", where, choices=LOSS_NAMES)
        if "loss_weights" in data:
            raw_weights = check_keys(data["loss_weights"], f"{where}.loss_weights", set(),
                                     set(DEFAULT_SCALE_WEIGHTS))
            weights = {k: get_float(raw_weights, k, f"{where}.loss_weights") for k in raw_weights}
            for key, value in weights.items():
                if value <= 0:
                    raise ConfigError(f"{where}.loss_weights.{key}: must be positive (every "
                                      "scale of the telescope loss is kept)")
            values["loss_weights"] = {**DEFAULT_SCALE_WEIGHTS, **weights}
        if "target" in data:
            values["target"] = get_str(data, "target", where, choices=TARGET_NAMES)
        if "decoder_sum" in data:
            if not isinstance(data["decoder_sum"], bool):
                raise ConfigError(f"{where}.decoder_sum: expected true or false")
            values["decoder_sum"] = data["decoder_sum"]
        return cls(**values)


@dataclass(frozen=True)
class TrainJob:
    region: Region
    arch: EncoderArch
    settings: TrainSettings


def load_job(region_arg: str, arch_name: str | None = None) -> TrainJob:
    """A preset name, or a TOML/JSON file with [region], [training], [architecture]."""
    path = Path(region_arg)
    if path.suffix in (".toml", ".json"):
        raw = load_config_file(path)
        check_keys(raw, str(path), {"region"}, {"training", "architecture"})
        region = resolve_region(region_arg)
        settings = TrainSettings.from_raw(raw.get("training", {}), f"{path}: training")
        arch = EncoderArch.from_raw(raw.get("architecture", {}), f"{path}: architecture")
        if arch_name is not None:
            arch = EncoderArch.preset(arch_name)
        return TrainJob(region, arch, settings)
    arch = EncoderArch.preset(arch_name or "default")
    return TrainJob(resolve_region(region_arg), arch, TrainSettings())


# --- prepared data -------------------------------------------------------------


@dataclass
class Prepared:
    """Modules after the 7-bit transport and the converter."""

    modules: ModuleSet
    charges: np.ndarray      # decoded 4E3M charges: the truth the IP sees
    inputs: np.ndarray       # converter integers (value * 2^7)
    sum_codes: np.ndarray

    @classmethod
    def of(cls, modules: ModuleSet) -> Prepared:
        codes = encode_tc(modules.calq)
        inputs, sum_codes = convert_codes(codes)
        return cls(modules, decode_tc(codes), inputs, sum_codes)

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, index: np.ndarray) -> Prepared:
        return Prepared(self.modules.subset(index), self.charges[index], self.inputs[index],
                        self.sum_codes[index])


def unit_targets(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=1, keepdims=True).astype(np.float64)
    return (values / np.maximum(total, 1)).astype(np.float32)


def training_targets(prepared: Prepared, target: str) -> np.ndarray:
    """Unit-sum training targets.

    "charges": the decoded 7-bit charges, the very modules the EMD compares the
    reconstruction with. The converter's 8-bit inputs lose every charge below
    2^-7 of the sum's MSB (e.g. the noise of a busy module); learning to
    reproduce the inputs would teach the decoder to drop what it is scored on.
    """
    if target == "charges":
        return unit_targets(prepared.charges)
    if target == "inputs":
        return unit_targets(prepared.inputs)
    raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGET_NAMES)}")


def model_inputs(prepared: Prepared, arch: EncoderArch, decoder_sum: bool):
    """What the autoencoder reads: the image, and the module-sum code if the decoder uses it."""
    from training.model import images_from_inputs, sum_feature

    images = images_from_inputs(prepared.inputs, arch)
    return [images, sum_feature(prepared.sum_codes)] if decoder_sum else images


def readable(reconstruction: np.ndarray) -> np.ndarray:
    """An empty reconstruction reads as the (transmitted) sum spread evenly."""
    out = np.asarray(reconstruction, dtype=np.float64).copy()
    empty = out.sum(axis=1) == 0
    out[empty] = 1.0
    return out


# --- progress ------------------------------------------------------------------


def _progress_callback(epochs: int, stream: TextIO):
    from tensorflow import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.best = float("inf")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            elapsed = time.perf_counter() - self.start
            val = logs.get("val_loss", float("nan"))
            self.best = min(self.best, val)
            eta = elapsed / (epoch + 1) * (epochs - epoch - 1)
            stream.write(f"  epoch {epoch + 1:3d}/{epochs}  loss {logs.get('loss', 0):.5g}  "
                         f"val {val:.5g}  best {self.best:.5g}  {elapsed:6.1f}s  "
                         f"(at most {eta:.0f}s left)\n")
            stream.flush()

    return Progress()


def log(stream: TextIO, message: str) -> None:
    stream.write(f"[train] {message}\n")
    stream.flush()


# --- training ------------------------------------------------------------------


@dataclass
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]
    integer_weights: dict[str, np.ndarray]


def fit(job: TrainJob, train: Prepared, val: Prepared, stream: TextIO):
    """Train the autoencoder; returns (encoder, decoder, history dict)."""
    # the model module first: it fixes which Keras `tensorflow.keras` resolves to
    from training.model import build_autoencoder  # isort: skip

    import tensorflow as tf
    from tensorflow import keras

    from training.losses import make_loss

    settings = job.settings
    tf.keras.utils.set_random_seed(settings.seed)
    tf.config.experimental.enable_op_determinism()
    autoencoder, encoder, decoder = build_autoencoder(job.arch, job.region.output_bits,
                                                      settings.decoder_sum)
    autoencoder.compile(optimizer=keras.optimizers.Adam(job.settings.learning_rate),
                        loss=make_loss(settings.loss, settings.loss_weights))
    stopper = keras.callbacks.EarlyStopping(patience=job.settings.patience,
                                            restore_best_weights=True)
    slower = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, job.settings.patience // 3),
                                               min_lr=1e-5)
    history = autoencoder.fit(
        model_inputs(train, job.arch, settings.decoder_sum),
        training_targets(train, settings.target),
        validation_data=(model_inputs(val, job.arch, settings.decoder_sum),
                         training_targets(val, settings.target)),
        epochs=job.settings.epochs, batch_size=job.settings.batch_size, shuffle=True,
        verbose=0, callbacks=[stopper, slower, _progress_callback(job.settings.epochs, stream)],
    )
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return encoder, decoder, hist


def truncate_outputs(latent: np.ndarray, arch: EncoderArch, bits: int) -> np.ndarray:
    """E-link truncation of encoder outputs (SPEC section 6), on float values."""
    codes = np.rint(latent * arch.output_type.scale).astype(np.int64)
    drop = arch.output_bits - bits
    return drop_low_bits(codes, drop) / arch.output_type.scale


def autoencoder_reconstruction(encoder, decoder, arch: EncoderArch, prepared: Prepared,
                               bits: int) -> np.ndarray:
    """Encoder (as the IP runs it) -> e-link truncation -> decoder (as the back end runs it)."""
    from training.model import images_from_inputs, sum_feature

    latent = encoder.predict(images_from_inputs(prepared.inputs, arch), batch_size=4096, verbose=0)
    received = truncate_outputs(latent, arch, bits)
    if len(decoder.inputs) == 2:
        received = [received, sum_feature(prepared.sum_codes)]
    return decoder.predict(received, batch_size=4096, verbose=0)


def evaluate(reconstructions: dict[str, np.ndarray], truth: Prepared) -> dict[str, Any]:
    """EMD summaries of each algorithm against the truth modules."""
    occupancy = truth.modules.occupancy()
    out = {}
    for name, recon in reconstructions.items():
        values = emd_batch(truth.charges, readable(recon))
        out[name] = {label: s.to_json() for label, s in summarise(values, occupancy).items()}
    return out


def baseline_reconstructions(prepared: Prepared, elinks: int) -> dict[str, np.ndarray]:
    return {name: make_baseline(name, elinks).reconstruct(prepared.inputs, prepared.charges)
            for name in BASELINE_NAMES}


def weights_file_document(job: TrainJob, weights: dict[str, np.ndarray]) -> dict[str, Any]:
    """The integer weight file the generators read."""
    return weights_document(job.arch, weights, tool=f"asicgen {__version__}", region=job.region.name,
                            elinks=job.region.elinks, seed=job.settings.seed)


def train_region(job: TrainJob, out_dir: Path, stream: TextIO | None = None,
                 force: bool = False, command: str | None = None, shown: Path | None = None) -> TrainResult:
    """Train and write the run folder `out_dir` whole (staged beside it, then swapped in).

    The output path is checked first, so a path asicgen may not write fails before training.
    `command` is recorded in the manifest as the command that makes the run; log lines name
    the folder as `shown` (where a caller staging `out_dir` will move it)."""
    # sys.stderr is looked up per call: a default bound at import time can be a stream
    # that has since been closed (a test harness's capture, a redirected interpreter)
    stream = stream if stream is not None else sys.stderr
    out_dir = check_folder_output(Path(out_dir), TRAIN_KIND, force=force, inputs=job.region.data_files)

    t0 = time.perf_counter()
    settings = job.settings
    log(stream, f"region {job.region.name}: {job.region.elinks} e-links "
                f"({job.region.output_bits} bits per output, {budget_bits(job.region.elinks)} bits)")
    modules = region_modules(job.region, settings.seed, settings.modules)
    prepared = Prepared.of(modules)
    non_empty = np.flatnonzero(prepared.inputs.sum(axis=1) > 0)
    if len(non_empty) < 10:
        raise ConfigError(f"region {job.region.name}: only {len(non_empty)} non-empty modules")
    train_idx, val_idx = split(len(non_empty), settings.seed, settings.validation_fraction)
    train, val = prepared.subset(non_empty[train_idx]), prepared.subset(non_empty[val_idx])
    log(stream, f"{len(modules)} modules ({len(modules) - len(non_empty)} empty, skipped): "
                f"{len(train)} training, {len(val)} validation; "
                f"architecture {job.arch.layout}, {job.arch.n_weights} weights, loss {settings.loss}")
    encoder, decoder, history = fit(job, train, val, stream)
    train_time = time.perf_counter() - t0
    epochs_run = len(history["loss"])
    log(stream, f"trained {epochs_run} epochs in {train_time:.1f}s; evaluating EMD")

    scored = val.subset(np.arange(min(len(val), settings.eval_modules)))
    recon = {"autoencoder": autoencoder_reconstruction(encoder, decoder, job.arch, scored,
                                                       job.region.output_bits)}
    recon.update(baseline_reconstructions(scored, job.region.elinks))
    emd_summary = evaluate(recon, scored)
    for name, summary in emd_summary.items():
        log(stream, f"  median EMD {name:12s} {summary['all']['median']:.4f}")

    weights = quantised_integer_weights(encoder, job.arch)
    metrics = {
        "tool": f"asicgen {__version__}",
        "region": job.region.name,
        "elinks": job.region.elinks,
        "output_bits": job.region.output_bits,
        "budget_bits": budget_bits(job.region.elinks),
        "architecture": job.arch.to_raw(),
        "settings": asdict(settings),
        "generator": None if job.region.data_files else asdict(job.region.generator),
        "modules": {"total": len(modules), "training": len(train), "validation": len(val),
                    "scored": len(scored)},
        "epochs_run": epochs_run,
        "best_val_loss": float(min(history["val_loss"])),
        "train_seconds": round(train_time, 2),
        "history": history,
        "emd": emd_summary,
        "weights_sha256": tensors_digest(weights),
    }
    shown = Path(shown) if shown is not None else out_dir
    log(stream, f"writing {shown}")
    with staged_folder(out_dir, TRAIN_KIND, force=force) as staging:
        write_outputs(staging, job, encoder, decoder, weights, metrics)
        write_manifest(staging, TRAIN_KIND, {"region": job.region.name, "elinks": job.region.elinks,
                                           "weights_sha256": metrics["weights_sha256"], "command": command})
    log(stream, f"wrote {shown} in {time.perf_counter() - t0:.1f}s total")
    return TrainResult(out_dir, metrics, weights)


def write_outputs(out_dir: Path, job: TrainJob, encoder, decoder,
                  weights: dict[str, np.ndarray], metrics: dict[str, Any]) -> None:
    from training.plots import plot_emd_vs_occupancy, plot_loss

    out_dir.mkdir(parents=True, exist_ok=True)
    for model, name in ((encoder, "encoder.h5"), (decoder, "decoder.h5")):
        # HDF5 is what qkeras.utils.load_qmodel reads; its deprecation notes are noise here
        with atomic_path(out_dir / "model" / name) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.save(tmp, save_format="h5")
    write_text(out_dir / "weights.json", json.dumps(weights_file_document(job, weights), indent=1) + "\n")
    write_text(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    plot_loss(metrics["history"], out_dir / "plots" / "loss.png", job.region.name)
    plot_emd_vs_occupancy(metrics["emd"], out_dir / "plots" / "emd_vs_occupancy.png",
                          f"{job.region.name}, {job.region.elinks} e-links")


def with_overrides(job: TrainJob, **overrides: Any) -> TrainJob:
    """Replace training settings given on the command line (None = keep).

    The values pass the checks of a [training] table, so that a library caller cannot
    start a run the settings file would refuse (epochs=0 used to fail after training)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return job
    checked = TrainSettings.from_raw(changes, "training override")
    return replace(job, settings=replace(job.settings, **{k: getattr(checked, k) for k in changes}))

