"""`asicgen regress`: the regressions of a generated IP as it is, JUnit XML, exit status."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.weights import WeightSet, weights_document

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _weights_file(path):
    weights = WeightSet.random(Design.build(SMALL), np.random.default_rng(5))
    path.write_text(json.dumps(weights_document(SMALL, weights.tensors, tool="test", region="cee_high_eta",
                                                elinks=5, seed=5)))
    return path


def _outcomes(junit) -> dict[str, str]:
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[case.get("name")] = kinds[0] if kinds else "passed"
    return found


@pytest.mark.slow
def test_regress_runs_the_ip_as_it_is_and_fails_on_an_edited_file(tmp_path, capsys):
    ip = tmp_path / "ip"
    weights = _weights_file(tmp_path / "weights.json")
    assert main(["generate", str(weights), "--out", str(ip), "--no-hls"]) == 0
    with (ip / "image" / "regmap.md").open("a") as edited:
        edited.write("edited by hand\n")
    code = main(["regress", str(ip), "--out", str(tmp_path / "regress"), "-n", "2", "--modules", "10",
                 "--fuzz-events", "200"])
    assert code == 1
    outcomes = _outcomes(tmp_path / "regress" / "junit.xml")
    assert outcomes == {"test_ip_files_are_the_generated_ones": "failure", "test_rtl_files_present": "passed",
                        "test_stream_plain": "passed", "test_stream_hardened": "skipped",
                        "test_i2c_directed": "passed", "test_i2c_fuzz": "passed"}
    assert "FAILED" in capsys.readouterr().err


def test_regress_refuses_a_folder_that_is_not_an_ip(tmp_path, capsys):
    assert main(["regress", str(tmp_path), "--out", str(tmp_path / "regress")]) == 2
    assert "not an IP (the output folder of `asicgen generate` or `asicgen flow`)" in capsys.readouterr().err
