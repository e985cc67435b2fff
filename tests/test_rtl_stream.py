"""The generated RTL under cocotb + Verilator: streaming, bit-exact with the Python model."""

import numpy as np
import pytest

from asicgen import rtl
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.render import Stamp, environment, render
from asicgen.core.weights import WeightSet
from verif.runner import run_cocotb
from verif.vectors import standard_vectors


def core_sources(design: Design, directory):
    env, ctx, stamp = environment("rtl"), rtl.context(design).fields(), Stamp("test", design.digest(), "test")
    paths = []
    for name, template in rtl.CORE_TEMPLATES.items():
        path = directory / name
        path.write_text(render(env, template, stamp, name, **ctx))
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "ii"), [("8x8", 1), ("8x8", 4)])
def test_core_streams_bit_exact(arch, ii, tmp_path_factory):
    design = Design.build(EncoderArch.preset(arch), ii)
    weights = WeightSet.random(design, np.random.default_rng(ii))
    build = tmp_path_factory.mktemp(f"core_{arch}_ii{ii}")
    vectors = standard_vectors(design, per_region=150, seed=ii, random_rows=200)
    np.savez(build / "vectors.npz", codes=vectors.codes, elinks=vectors.elinks)
    result = run_cocotb(sources=core_sources(design, build), toplevel="ae_core",
                        test_module="verif.tb_stream", build_dir=build,
                        config={"design": design.to_raw(), "weights": weights.words(), "dut": "ae_core",
                                "vectors": build / "vectors.npz"})
    assert result.tests == 4 and result.failed == 0, f"see {result.results_xml}"
