"""`asicgen sweep`: regions retrained and verified as tasks on a local Dask cluster."""

import json

import numpy as np
import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet, weights_document

SMALL = EncoderArch(conv_filters=2, dense_units=4)
TRAINING = "[training]\nepochs = 2\nmodules = 3000\neval_modules = 300\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    base = tmp_path_factory.mktemp("sweep")
    weights = WeightSet.random(Design.build(SMALL), np.random.default_rng(4))
    (base / "weights.json").write_text(json.dumps(weights_document(
        SMALL, weights.tensors, tool="test", region="cee_high_eta", elinks=5, seed=4)))
    assert main(["generate", str(base / "weights.json"), "--out", str(base / "ip"), "--no-hls"]) == 0
    return base


@pytest.mark.slow
def test_two_regions_on_a_local_cluster(folder):
    (folder / "two.toml").write_text('[sweep]\nip = "ip"\nregions = ["ceh_front", "cee_mid"]\n'
                                     'stream_modules = 40\n\n' + TRAINING
                                     + '\n[cluster]\nkind = "local"\nworkers = 2\n')
    out = folder / "two"
    assert main(["sweep", str(folder / "two.toml"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())["tasks"]
    assert [(t["task"], t["status"]) for t in summary] == [("ceh_front", "passed"), ("cee_mid", "passed")]
    assert [t["elinks"] for t in summary] == [3, 4]
    for task in summary:
        assert "40 modules streamed bit-exact" in task["result"]
        assert (out / task["task"] / "image" / "weights_i2c.txt").is_file()
    assert "2 of 2 tasks passed" in (out / "summary.md").read_text()


@pytest.mark.slow
def test_a_failed_task_is_reported_with_its_region_and_log(folder, capsys):
    (folder / "broken.csv").write_text("CALQ_0,CALQ_1\n1,2\n")
    (folder / "broken.toml").write_text('[region]\nname = "broken"\nbase = "ceh_front"\n'
                                        'data_files = ["broken.csv"]\n')
    (folder / "bad.toml").write_text('[sweep]\nip = "ip"\nregions = ["broken.toml"]\n\n' + TRAINING
                                     + '\n[cluster]\nworkers = 1\n')
    out = folder / "bad"
    assert main(["sweep", str(folder / "bad.toml"), "--out", str(out)]) == 1
    (task,) = json.loads((out / "summary.json").read_text())["tasks"]
    assert task["status"] == "error" and task["region"].endswith("broken.toml")
    assert "broken.csv" in task["result"]
    assert task["log"] == str(out / "broken.log") and "Traceback" in (out / "broken.log").read_text()
    err = capsys.readouterr().err
    assert "broken" in err and "broken.log" in err


@pytest.mark.parametrize("text, problem", [
    ('[sweep]\nregions = ["ceh_front"]\n', "give either ip"),
    ('[sweep]\nip = "ip"\nregions = []\n', "regions: expected a non-empty list"),
    ('[sweep]\nip = "ip"\nregions = ["a"]\ncolour = 1\n', "unknown key(s) colour"),
    ('[sweep]\nip = "nowhere"\nregions = ["a"]\n', "no such folder; expected an IP"),
    ('[sweep]\nip = "ip"\nregions = ["a"]\n[cluster]\nkind = "scheduler"\n', "needs address"),
])
def test_a_bad_sweep_file_is_refused_before_anything_runs(folder, tmp_path, capsys, text, problem):
    sweep = folder / "check.toml"
    sweep.write_text(text)
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "s")]) == 2
    assert problem in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
