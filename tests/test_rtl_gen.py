"""The RTL generator: lint-clean SystemVerilog, deterministic, stamped, readable."""

import json
import subprocess

import pytest

from asicgen.cli import main
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.rtl import FILE_ORDER, generate_rtl
from verif.runner import verilator_environment


@pytest.mark.parametrize(("arch", "ii"), [("default", 1), ("default", 2), ("default", 4), ("default", 8),
                                          ("8x8", 1), ("8x8", 4)])
def test_generated_rtl_is_lint_clean(arch, ii, tmp_path):
    verilator_environment()
    files = generate_rtl(tmp_path, Design.build(EncoderArch.preset(arch), ii), "test")
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "ae_top", *map(str, files)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]


def test_rtl_is_deterministic_stamped_and_readable(tmp_path):
    design = Design.build(EncoderArch(), 2)
    generate_rtl(tmp_path / "a", design, "asicgen generate m --out a")
    generate_rtl(tmp_path / "b", design, "asicgen generate m --out a")
    for name in FILE_ORDER:
        text = (tmp_path / "a" / name).read_text()
        assert text == (tmp_path / "b" / name).read_text(), name
        head = text.splitlines()[:4]
        assert "do not edit" in head[0] and head[3].endswith("asicgen generate m --out a"), name
        assert max(map(len, text.splitlines())) < 200, f"{name}: an overlong line"
    encoder = (tmp_path / "a" / "ae_encoder.sv").read_text()
    assert "// TC 16: row 0, col 0, channel 1" in encoder
    assert "// position 5: row 1, col 1" in encoder and "g_position" in encoder
    top = (tmp_path / "a" / "ae_top.sv").read_text()
    for port in ("clk", "rst_n", "scl_i", "sda_i", "sda_o", "i2c_addr", "tc_in", "tc_valid", "ae_sum",
                 "ae_out", "ae_valid", "tmr_err"):
        assert f" {port}," in top or f" {port} " in top, port
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["latency"] == 3 and manifest["ii"] == 2 and manifest["file_order"] == list(FILE_ORDER)


@pytest.mark.slow
def test_generate_command_writes_rtl_hls_and_image(trained_networks, tmp_path):
    out = tmp_path / "ip"
    assert main(["generate", str(trained_networks["default"]), "--ii", "4", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["parts"]) == {"rtl", "hls", "image"}
    for part, info in manifest["parts"].items():
        for name in info["files"]:
            assert (out / part / name).is_file(), f"{part}/{name}"
    assert manifest["latency"] == 5 and manifest["weights_sha256"]
    assert "ae_top.sv" in manifest["parts"]["rtl"]["files"]
