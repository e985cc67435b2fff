"""`asicgen region retrain`: new weights for an existing IP, proven on its untouched RTL."""

import json

import numpy as np
import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet, weights_document
from asicgen.region import load_ip

SMALL = EncoderArch(conv_filters=2, dense_units=4)


@pytest.fixture()
def ip(tmp_path):
    weights = WeightSet.random(Design.build(SMALL), np.random.default_rng(9))
    source = tmp_path / "weights.json"
    source.write_text(json.dumps(weights_document(SMALL, weights.tensors, tool="test", region="cee_high_eta",
                                                  elinks=5, seed=9)))
    assert main(["generate", str(source), "--out", str(tmp_path / "ip"), "--no-hls"]) == 0
    return tmp_path / "ip"


def _retrain(ip, region, out, *options):
    return main(["region", "retrain", "--ip", str(ip), "--region", region, "--out", str(out), *options])


def test_an_ip_whose_rtl_was_edited_is_refused(ip, tmp_path, capsys):
    with (ip / "rtl" / "ae_core.sv").open("a") as edited:
        edited.write("// edited\n")
    assert _retrain(ip, "ceh_front", tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert "RTL differs from its manifest (rtl/ae_core.sv)" in err
    assert not (tmp_path / "r").exists()


def test_a_region_asking_for_another_architecture_is_refused(ip, tmp_path, capsys):
    region = tmp_path / "wide.toml"
    region.write_text('[region]\nname = "wide"\nbase = "ceh_front"\n\n[architecture]\nconv_filters = 4\n'
                      "dense_units = 4\n")
    assert _retrain(ip, str(region), tmp_path / "r") == 2
    err = capsys.readouterr().err
    assert "another architecture" in err and "conv_filters 4 (the IP has 2)" in err
    assert not (tmp_path / "r").exists()


def test_not_an_ip(tmp_path, capsys):
    assert main(["region", "retrain", "--ip", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "not an IP (the output folder of `asicgen generate` or `asicgen flow`)" in capsys.readouterr().err


@pytest.mark.slow
def test_retrain_a_region_for_a_fixed_ip(ip, tmp_path):
    before = load_ip(ip).rtl_sha256()
    out = tmp_path / "ceh_front"
    code = _retrain(ip, "ceh_front", out, "--epochs", "2", "--modules", "3000", "--eval-modules", "300",
                    "--stream-modules", "60")
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["passed"] and manifest["region"] == "ceh_front" and manifest["elinks"] == 3
    assert manifest["ip_rtl_sha256"] == before == load_ip(ip).rtl_sha256()
    assert "60 modules streamed bit-exact" in manifest["result"]
    image = json.loads((out / "image" / "manifest.json").read_text())
    trained = json.loads((out / "train" / "weights.json").read_text())
    assert image["weights_sha256"] == trained["sha256"] and image["design"]["architecture"] == SMALL.to_raw()
