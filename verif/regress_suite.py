"""The cocotb regressions of one generated IP, as a pytest module (`asicgen regress IP_DIR` runs it
with pytest-xdist and JUnit XML). The IP is used as it is, never regenerated:

* its files are the ones its manifest lists (sha256 checked);
* the plain `ae_top` streams the standard vectors (every region preset, every e-link mode,
  corner cases) bit-exact against the Python model with the IP's own weights;
* the hardened `ae_top` (rtl_tmr/, when the IP has one) does the same;
* its I2C target and register file pass the directed I2C tests and a seeded fuzz run.

The IP folder and the build folder come from the environment (`IP_ENV`, `BUILD_ENV`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asicgen.core.artefacts import Ip
from asicgen.core.image import load_image
from asicgen.core.naming import FILE_ORDER
from verif.flow_check import streamed_modules, verify_hardened_top, verify_top
from verif.i2c_launch import I2C_FILES, run_i2c

IP_ENV, BUILD_ENV = "ASICGEN_REGRESS_IP", "ASICGEN_REGRESS_BUILD"
MODULES_ENV, FUZZ_ENV = "ASICGEN_REGRESS_MODULES", "ASICGEN_REGRESS_FUZZ_EVENTS"


@pytest.fixture(scope="module")
def ip() -> Path:
    return Path(os.environ[IP_ENV])


@pytest.fixture(scope="module")
def build() -> Path:
    return Path(os.environ[BUILD_ENV])


@pytest.fixture(scope="module")
def image(ip: Path):
    return load_image(ip / "image")


def test_ip_files_are_the_generated_ones(ip: Path):
    changed = Ip.open(ip).changed_files()
    assert not changed, f"files differ from the IP's manifest (edited or missing): {', '.join(changed)}"


def test_stream_plain(ip: Path, build: Path, image):
    result = verify_top(ip / "rtl", image.weights, build / "stream_plain",
                        per_region=int(os.environ.get(MODULES_ENV, "150")))
    assert result.tests > 0 and result.failed == 0, f"{result.failed} of {result.tests} failed; see {build}"
    assert streamed_modules(build / "stream_plain") > 0


def test_stream_hardened(ip: Path, build: Path, image):
    if not (ip / "rtl_tmr" / "ae_top.v").is_file():
        pytest.skip("the IP has no hardened build (generate --tmr)")
    result = verify_hardened_top(ip / "rtl_tmr", image.weights, build / "stream_hardened",
                                 per_region=int(os.environ.get(MODULES_ENV, "150")))
    assert result.tests > 0 and result.failed == 0, f"{result.failed} of {result.tests} failed; see {build}"


def test_i2c_directed(ip: Path, build: Path, image):
    result = run_i2c([ip / "rtl" / name for name in I2C_FILES], image.design, build / "i2c", "verif.tb_i2c",
                     scl_hz=400e3, full_image_scl_hz=1e6, seed=7)
    assert result.tests > 0 and result.failed == 0, f"{result.failed} of {result.tests} failed; see {build}"


def test_i2c_fuzz(ip: Path, build: Path, image):
    result = run_i2c([ip / "rtl" / name for name in I2C_FILES], image.design, build / "i2c_fuzz",
                     "verif.tb_i2c_fuzz", seed=11, fuzz_events=int(os.environ.get(FUZZ_ENV, "1500")))
    assert result.tests > 0 and result.failed == 0, f"{result.failed} of {result.tests} failed; see {build}"


def test_rtl_files_present(ip: Path):
    missing = [name for name in FILE_ORDER if not (ip / "rtl" / name).is_file()]
    assert not missing, f"the IP's rtl/ lacks {', '.join(missing)}"
