"""`asicgen describe / image / hls / csim` from the command line."""

import json

import pytest

from asicgen.cli import main


@pytest.mark.slow
def test_image_hls_and_csim_commands(trained_networks, tmp_path, capsys):
    source = trained_networks["8x8"]
    assert main(["describe", str(source), "--ii", "4"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["weights"] == 2144 and described["latency"] == 5 and described["ii"] == 4

    assert main(["image", str(source), "--out", str(tmp_path / "img"), "--device-address", "0x21"]) == 0
    text = (tmp_path / "img" / "weights_i2c.txt").read_text()
    assert "device 0x21" in text and len((tmp_path / "img" / "weights.bin").read_bytes()) == 1608
    assert "| 0xFF03 | `ELINK_MODE` |" in (tmp_path / "img" / "regmap.md").read_text()

    assert main(["hls", str(source), "--ii", "2", "--out", str(tmp_path / "hls")]) == 0
    manifest = json.loads((tmp_path / "hls" / "manifest.json").read_text())
    assert manifest["ii"] == 2 and manifest["latency"] == 3
    assert "src/ae_top.cpp" in manifest["files"]
    assert main(["csim", str(tmp_path / "hls"), "--per-region", "300"]) == 0
    assert "0 mismatches" in capsys.readouterr().err


def test_errors_name_what_is_wrong(tmp_path, capsys):
    assert main(["hls", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing: no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["image", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no weights.json here" in capsys.readouterr().err
    assert main(["csim", str(tmp_path / "empty")]) == 2
    assert "not an HLS project written by asicgen" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_hls_refuses_an_unsupported_ii(trained_networks, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["hls", str(trained_networks["default"]), "--ii", "3", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "initiation interval 3 is not supported" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
