import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

TINY = ["--modules", "3000", "--epochs", "2", "--eval-modules", "300"]


@pytest.fixture(scope="session")
def trained_networks(tmp_path_factory):
    """Training output directories of short runs: {"default": dir, "8x8": dir}."""
    from asicgen.cli import main

    runs = {}
    for arch in ("default", "8x8"):
        out = tmp_path_factory.mktemp(f"trained-{arch}") / "run"
        assert main(["train", "--arch", arch, "--out", str(out), "--seed", "3"] + TINY) == 0
        runs[arch] = out
    return runs
