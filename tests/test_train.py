import json
import subprocess
import sys

import numpy as np
import pytest

from asicgen.cli import main

TINY = ["--modules", "3000", "--epochs", "2", "--eval-modules", "300"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    assert main(["train", "--region", "ceh_front", "--out", str(out), "--seed", "7"] + TINY) == 0
    return out


@pytest.mark.slow
def test_train_writes_every_artefact(trained):
    for name in ("model/encoder.h5", "model/decoder.h5", "weights.json", "metrics.json",
                 "plots/loss.png", "plots/emd_vs_occupancy.png"):
        assert (trained / name).stat().st_size > 0, name
    assert not list(trained.rglob("*.tmp*")), "temporary files left behind"
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["region"] == "ceh_front" and metrics["elinks"] == 3
    assert set(metrics["emd"]) == {"autoencoder", "threshold", "best_choice", "stc4", "stc16"}
    assert metrics["emd"]["autoencoder"]["all"]["count"] == 300
    assert set(metrics["emd"]["autoencoder"]) == {"all", "0-2", "2-5", "5-10", "10-15", "15+"}
    assert len(metrics["history"]["loss"]) == metrics["epochs_run"] <= 2
    weights = json.loads((trained / "weights.json").read_text())
    sizes = {k: len(v["values"]) for k, v in weights["tensors"].items()}
    assert sizes == {"conv_kernel": 216, "conv_bias": 8, "dense_kernel": 2048, "dense_bias": 16}
    assert all(-32 <= x <= 31 for t in weights["tensors"].values() for x in t["values"])


@pytest.mark.slow
def test_saved_encoder_reloads_with_qkeras_and_reproduces_the_integer_weights(trained):
    from qkeras.utils import load_qmodel

    from asicgen.core.arch import EncoderArch
    from training.model import CUSTOM_OBJECTS
    from training.qkeras_import import quantised_integer_weights

    encoder = load_qmodel(str(trained / "model" / "encoder.h5"), custom_objects=CUSTOM_OBJECTS,
                          compile=False)
    weights = json.loads((trained / "weights.json").read_text())
    ints = quantised_integer_weights(encoder, EncoderArch.from_raw(weights["architecture"]))
    for name, tensor in weights["tensors"].items():
        assert ints[name].reshape(-1).tolist() == tensor["values"]


@pytest.mark.slow
def test_same_seed_reproduces_the_same_weights(trained, tmp_path):
    again = tmp_path / "again"
    assert main(["train", "--region", "ceh_front", "--out", str(again), "--seed", "7"] + TINY) == 0
    first = json.loads((trained / "weights.json").read_text())
    second = json.loads((again / "weights.json").read_text())
    assert first["tensors"] == second["tensors"]
    other = tmp_path / "other"
    assert main(["train", "--region", "ceh_front", "--out", str(other), "--seed", "8"] + TINY) == 0
    third = json.loads((other / "weights.json").read_text())
    assert third["tensors"] != first["tensors"]


def test_bad_region_and_config_give_clear_errors(tmp_path, capsys):
    assert main(["train", "--region", "atlantis", "--out", str(tmp_path / "x")]) == 2
    assert "unknown region 'atlantis'" in capsys.readouterr().err
    cfg = tmp_path / "job.toml"
    cfg.write_text('[region]\nname = "r"\nbase = "ceh_back"\n[training]\nepoch = 3\n')
    assert main(["train", "--region", str(cfg), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "job.toml: training: unknown key(s) epoch" in err
    assert not (tmp_path / "x").exists()


def test_region_file_with_csv_data(tmp_path, capsys):
    """A region can point at CSV files; a bad file stops the run with file and line."""
    bad = tmp_path / "data.csv"
    bad.write_text(",".join(f"CALQ_{i}" for i in range(48)) + "\n" + ",".join(["1"] * 47) + "\n")
    cfg = tmp_path / "job.toml"
    cfg.write_text('[region]\nname = "r"\nelinks = 4\ndata_files = ["data.csv"]\n')
    assert main(["train", "--region", str(cfg), "--out", str(tmp_path / "x")]) == 2
    assert "data.csv:2: expected 48 fields, found 47" in capsys.readouterr().err


def test_console_entry_point_lists_regions():
    out = subprocess.run([sys.executable, "-m", "asicgen.cli", "regions"], capture_output=True,
                         text=True, check=True).stdout
    assert "cee_high_eta" in out and "(default)" in out
    assert np.all([f"{e} e-links" in out for e in (2, 3, 4, 5)])


def test_training_settings_parse_targets_loss_weights_and_the_sum_input():
    from asicgen.core.raw import ConfigError
    from training.losses import DEFAULT_SCALE_WEIGHTS
    from training.train import TrainSettings

    default = TrainSettings()
    assert default.target == "charges" and default.decoder_sum and default.loss_weights is None
    s = TrainSettings.from_raw({"target": "inputs", "decoder_sum": False,
                                "loss_weights": {"block": 2.0}})
    assert s.target == "inputs" and not s.decoder_sum
    assert s.loss_weights == {**DEFAULT_SCALE_WEIGHTS, "block": 2.0}
    with pytest.raises(ConfigError, match=r"loss_weights.tc: must be positive"):
        TrainSettings.from_raw({"loss_weights": {"tc": 0.0}})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 4x4"):
        TrainSettings.from_raw({"loss_weights": {"4x4": 1.0}})
    with pytest.raises(ConfigError, match="decoder_sum: expected true or false"):
        TrainSettings.from_raw({"decoder_sum": 1})


def test_training_targets_are_the_unit_sum_charges_the_emd_is_scored_against():
    from training.data import generate
    from training.regions import preset
    from training.train import Prepared, training_targets

    prepared = Prepared.of(generate(preset("cee_high_eta"), seed=3, modules=300))
    prepared = prepared.subset(np.flatnonzero(prepared.inputs.sum(axis=1) > 0))
    charges = training_targets(prepared, "charges")
    assert np.allclose(charges.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(charges, prepared.charges / prepared.charges.sum(axis=1, keepdims=True),
                       atol=1e-6)
    # the converter's inputs drop charges below 2^-7 of the sum's MSB: the
    # charge targets keep them
    inputs = training_targets(prepared, "inputs")
    assert np.count_nonzero(charges) > np.count_nonzero(inputs)
