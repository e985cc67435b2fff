"""Bad input gives one `error:` line naming the option or file and what is allowed,
exit code 2 and nothing lost; legal but suspicious input gives `asicgen: warning:`.

No case trains a network: command-line values are refused while parsing, and data
errors stop a run before the first epoch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from asicgen import cli
from asicgen.cli import main

#: SPEC section 2: the 7-bit 4E3M transport saturates at (2^3 + 7) << 14 ADC counts
TRANSPORT_MAX = 245_760
#: the weight register fields of the default architecture: 6-bit signed codes
WEIGHT_RANGE = "-32..31"


def _write_csv(path: Path, rows: list[list[int | float]]) -> Path:
    lines = [",".join(f"CALQ_{i}" for i in range(48))] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_region(path: Path, data_files: list[str]) -> Path:
    listed = ", ".join(f'"{f}"' for f in data_files)
    path.write_text(f'[region]\nname = "mine"\nbase = "ceh_front"\ndata_files = [{listed}]\n')
    return path


def _truncated_npz(path: Path) -> Path:
    np.savez_compressed(path, calq=np.arange(200 * 48, dtype=np.int64).reshape(200, 48))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _text_npz(path: Path) -> Path:
    _write_csv(path, [[1] * 48])
    return path


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error" in line.lower()]


# --- A: numeric options are range-checked while parsing ---------------------------

PARSE_CASES = [
    (["train", "--epochs", "0"], "argument --epochs", "must be at least 1, got 0"),
    (["train", "--modules", "-5"], "argument --modules", "must be at least 1, got -5"),
    (["train", "--seed", "-1"], "argument --seed", "must be 0..4294967295, got -1"),
    (["train", "--seed", str(2**32)], "argument --seed", "must be 0..4294967295"),
    (["train", "--eval-modules", "0"], "argument --eval-modules", "must be at least 1, got 0"),
    (["flow", "--epochs", "0"], "argument --epochs", "must be at least 1"),
    (["data", "--modules", "0"], "argument --modules", "must be at least 1, got 0"),
    (["data", "--seed", "-1"], "argument --seed", "must be 0..4294967295, got -1"),
    (["image", "SRC", "--burst", "0"], "argument --burst", "must be at least 1, got 0"),
    (["image", "SRC", "--elinks", "6"], "argument --elinks", "choose one of 2, 3, 4, 5"),
    (["image", "SRC", "--elinks", "1"], "argument --elinks", "choose one of 2, 3, 4, 5"),
    (["image", "SRC", "--device-address", "0x200"], "argument --device-address",
     "0x200 is not a 7-bit I2C address (0x00..0x7F); usable addresses are 0x08..0x77"),
    (["image", "SRC", "--device-address", "0x03"], "argument --device-address",
     "0x03 is reserved by the I2C specification (0x00..0x07: general call"),
    (["image", "SRC", "--device-address", "0x7C"], "argument --device-address",
     "0x7C is reserved by the I2C specification (0x78..0x7F: 10-bit addressing and device ID)"),
    (["image", "SRC", "--device-address", "fifty"], "argument --device-address",
     "expected an integer, got 'fifty'"),
    (["hls", "SRC", "--ii", "3"], "argument --ii", "initiation interval 3 is not supported (choose one "
                                                   "of 1, 2, 4, 8)"),
    (["generate", "SRC", "--ii", "0"], "argument --ii", "choose one of 1, 2, 4, 8"),
    (["describe", "SRC", "--ii", "16"], "argument --ii", "choose one of 1, 2, 4, 8"),
    (["synth", "default", "--ii", "1", "3"], "argument --ii", "initiation interval 3 is not supported"),
    (["csim", "SRC", "--per-region", "0"], "argument --per-region", "must be at least 1, got 0"),
    (["csim", "SRC", "--seed", "-3"], "argument --seed", "must be 0..4294967295, got -3"),
]

#: every command with `--out`, so that the test can check nothing was written
_OUT_COMMANDS = ("train", "flow", "data", "image", "hls", "generate", "synth")


@pytest.fixture
def no_command_runs(monkeypatch):
    """Any cmd_* reached means parsing let the value through: fail loudly instead."""
    def refuse(args):
        raise AssertionError(f"the {args.command} command ran; the value should be refused while parsing")

    for name in dir(cli):
        if name.startswith("cmd_"):
            monkeypatch.setattr(cli, name, refuse)


@pytest.mark.parametrize(("argv", "option", "allowed"), PARSE_CASES,
                         ids=[" ".join(c[0]) for c in PARSE_CASES])
def test_numeric_options_are_refused_while_parsing(argv, option, allowed, tmp_path, capsys,
                                                   no_command_runs):
    out = tmp_path / ("out.csv" if argv[0] == "data" else "out")
    argv = [str(tmp_path / "src") if a == "SRC" else a for a in argv]
    if argv[0] in _OUT_COMMANDS:
        argv += ["--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"asicgen {argv[0]}: error: {option}: "), lines[0]
    assert allowed in lines[0]
    assert not out.exists()


VALID_EDGES = [
    ["train", "--epochs", "1", "--modules", "1", "--eval-modules", "1", "--seed", "0"],
    ["train", "--seed", str(2**32 - 1)],
    ["data", "--modules", "1", "--seed", "0"],
    ["image", "SRC", "--burst", "1", "--elinks", "2", "--device-address", "0x08"],
    ["image", "SRC", "--elinks", "5", "--device-address", "119"],
    ["hls", "SRC", "--ii", "8"],
    ["synth", "default", "--ii", "1", "2", "4", "8"],
    ["csim", "SRC", "--per-region", "1", "--seed", "0"],
]


@pytest.mark.parametrize("argv", VALID_EDGES, ids=[" ".join(a) for a in VALID_EDGES])
def test_the_edges_of_each_range_are_accepted(argv):
    argv = [*argv, "--out", "o"] if argv[0] in _OUT_COMMANDS else argv
    args = cli.build_parser().parse_args(argv)
    given = dict(zip(argv[1:], argv[2:], strict=False))  # option -> the word after it
    for option in ("--epochs", "--modules", "--eval-modules", "--seed", "--burst", "--elinks",
                   "--per-region"):
        if option in given:
            assert getattr(args, option[2:].replace("-", "_")) == int(given[option])
    if "--device-address" in given:
        assert args.device_address == int(given["--device-address"], 0)


# --- B and C through the command line: one error line, nothing written or lost -------


def _missing_data_file_train(tmp: Path):
    region = _write_region(tmp / "r.toml", ["missing.csv"])
    return ["train", "--region", str(region), "--out", str(tmp / "out")], region, [
        "r.toml: region.data_files[0]: 'missing.csv': no such data file", str(tmp / "missing.csv")]


def _missing_data_file_data(tmp: Path):
    region = _write_region(tmp / "r.toml", ["missing.csv"])
    return ["data", "--region", str(region), "--out", str(tmp / "out.npz")], region, [
        "r.toml: region.data_files[0]: 'missing.csv': no such data file"]


def _truncated_npz_train(tmp: Path):
    data = _truncated_npz(tmp / "cut.npz")
    _write_region(tmp / "r.toml", ["cut.npz"])
    return ["train", "--region", str(tmp / "r.toml"), "--out", str(tmp / "out"), "--epochs", "1"], data, [
        "cut.npz: not a readable .npz archive: damaged or cut short", "write it again"]


def _text_npz_train(tmp: Path):
    data = _text_npz(tmp / "text.npz")
    _write_region(tmp / "r.toml", ["text.npz"])
    return ["train", "--region", str(tmp / "r.toml"), "--out", str(tmp / "out"), "--epochs", "1"], data, [
        "text.npz: not a readable .npz archive: it starts with text b'CALQ_0,CALQ_1,CA'",
        "a CSV file must be named .csv"]


def _empty_verilog(tmp: Path):
    source = tmp / "empty.v"
    source.write_bytes(b"")
    return ["tmr", str(source), "-o", str(tmp / "out")], source, [
        "empty.v: empty file (0 bytes); expected Verilog/SystemVerilog source with at least one module"]


def _comment_only_verilog(tmp: Path):
    source = tmp / "notes.v"
    source.write_text("// module m(input a);\n/* endmodule */\n")
    return ["tmr", str(source), "-o", str(tmp / "out")], source, ["notes.v: only comments"]


def _defines_only_verilog(tmp: Path):
    source = tmp / "defs.v"
    source.write_text("`define WIDTH 8\n")
    return ["tmr", str(source), "-o", str(tmp / "out")], source, ["the sources define no module"]


CLI_CASES: list[Callable[[Path], tuple[list[str], Path, list[str]]]] = [
    _missing_data_file_train, _missing_data_file_data, _truncated_npz_train, _text_npz_train,
    _empty_verilog, _comment_only_verilog, _defines_only_verilog]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.__name__.lstrip("_") for c in CLI_CASES])
def test_bad_input_files_give_one_error_line(case, tmp_path, capsys):
    argv, kept, messages = case(tmp_path)
    before = kept.read_bytes()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("asicgen: error: "), err
    for message in messages:
        assert message in lines[0]
    assert kept.read_bytes() == before
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


def test_data_exports_the_modules_of_a_region_with_data_files(tmp_path, capsys):
    rows = [[i * 48 + j for j in range(48)] for i in range(3)]
    _write_csv(tmp_path / "mine.csv", rows)
    region = _write_region(tmp_path / "r.toml", ["mine.csv"])
    out = tmp_path / "mine.npz"
    assert main(["data", "--region", str(region), "--out", str(out)]) == 0
    with np.load(out) as archive:
        assert archive["calq"].tolist() == rows


# --- B and C through the library ----------------------------------------------------


def _design():
    from asicgen.core.arch import EncoderArch
    from asicgen.core.design import Design

    return Design.build(EncoderArch.preset("default"))


def _zero_arrays(design) -> dict[str, np.ndarray]:
    return {t.name: np.zeros(t.shape) for t in design.tensors}


def _golden_float_codes():
    from asicgen.core import golden
    from asicgen.core.weights import WeightSet

    design = _design()
    codes = np.zeros((2, 48))
    codes[1, 5] = 3.7
    golden.run(design, WeightSet.zeros(design), codes, 4)


def _golden_float_elinks():
    from asicgen.core import golden
    from asicgen.core.weights import WeightSet

    design = _design()
    golden.run(design, WeightSet.zeros(design), np.zeros((2, 48), np.int64), 4.5)


def _golden_float_elink_array():
    from asicgen.core import golden
    from asicgen.core.weights import WeightSet

    design = _design()
    golden.run(design, WeightSet.zeros(design), np.zeros((2, 48), np.int64), np.array([4.0, np.nan]))


def _weightset_out_of_range():
    from asicgen.core.weights import WeightSet

    design = _design()
    arrays = _zero_arrays(design)
    arrays["dense_kernel"][7, 2] = 40
    WeightSet(design, arrays)


def _weightset_infinite():
    from asicgen.core.weights import WeightSet

    design = _design()
    arrays = _zero_arrays(design)
    arrays["conv_kernel"][1, 2, 0, 3] = np.inf
    WeightSet(design, arrays)


def _weightset_fraction():
    from asicgen.core.weights import WeightSet

    design = _design()
    arrays = _zero_arrays(design)
    arrays["conv_bias"][6] = 2.5
    WeightSet.from_arrays(design, arrays, "w.json.tensors")


def _with_overrides_epochs_zero():
    from training.regions import preset
    from training.train import TrainJob, TrainSettings, with_overrides

    with_overrides(TrainJob(preset("ceh_back"), None, TrainSettings()), epochs=0)


LIBRARY_CASES = [
    (_golden_float_codes, ValueError, "codes[1, 5]: 3.7 is not an integer; expected 4E3M TC codes 0..127"),
    (_golden_float_elinks, ValueError, "elinks: 4.5 is not an integer; expected e-link modes 2, 3, 4, 5"),
    (_golden_float_elink_array, ValueError, "elinks[1]: nan is not an integer; expected e-link modes"),
    (_weightset_out_of_range, "ConfigError",
     f"weights.dense_kernel[7, 2]: code 40 does not fit its 6-bit register field ({WEIGHT_RANGE})"),
    (_weightset_infinite, "ConfigError",
     f"weights.conv_kernel[1, 2, 0, 3]: value inf is not a finite number; weights are integer codes "
     f"(value * 32) that fit its 6-bit register field ({WEIGHT_RANGE})"),
    (_weightset_fraction, "ConfigError",
     f"w.json.tensors.conv_bias[6]: value 2.5 is not an integer code (value * 32); weights must fit "
     f"its 6-bit register field ({WEIGHT_RANGE})"),
    (_with_overrides_epochs_zero, "ConfigError", "training override.epochs: 0 is below the minimum 1"),
]


@pytest.mark.parametrize(("call", "error", "message"), LIBRARY_CASES,
                         ids=[c[0].__name__.lstrip("_") for c in LIBRARY_CASES])
def test_library_refuses_what_it_would_silently_change(call, error, message):
    from asicgen.core.raw import ConfigError

    expected = ConfigError if error == "ConfigError" else error
    with pytest.raises(expected) as info:
        call()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_integer_valued_floats_stay_accepted_by_the_model():
    from asicgen.core import golden
    from asicgen.core.weights import WeightSet

    design = _design()
    weights = WeightSet.random(design, np.random.default_rng(4))
    codes = np.random.default_rng(5).integers(0, 128, size=(20, 48))
    exact = golden.run(design, weights, codes, np.full(20, 3))
    floats = golden.run(design, weights, codes.astype(np.float64), np.full(20, 3.0))
    assert np.array_equal(exact.out, floats.out) and np.array_equal(exact.sum_code, floats.sum_code)
    assert WeightSet(design, {k: v.astype(np.float64) for k, v in weights.tensors.items()}).equals(weights)


@pytest.mark.parametrize("make", [_truncated_npz, _text_npz], ids=["truncated", "text"])
def test_bad_npz_named_by_a_region_is_a_data_error(make, tmp_path):
    from training.data import DataError, region_modules
    from training.regions import resolve_region

    data = make(tmp_path / "m.npz")
    region = resolve_region(str(_write_region(tmp_path / "r.toml", ["m.npz"])))
    with pytest.raises(DataError, match=r"m\.npz: not a readable \.npz archive: (damaged|it starts with)"):
        region_modules(region, seed=1)
    assert data.exists()


# --- warnings: the run goes on, and the user hears about it -----------------------


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("asicgen: warning: ")]


def test_charges_beyond_the_transport_are_loaded_with_a_warning(tmp_path, capsys):
    from training.data import load_modules

    row = [0] * 48
    row[3], row[40] = 10**9, TRANSPORT_MAX + 1
    path = _write_csv(tmp_path / "hot.csv", [row, [TRANSPORT_MAX] * 48])
    modules = load_modules([path])
    (warning,) = _warnings(capsys.readouterr().err)
    assert str(path) in warning
    assert f"2 charge(s) above {TRANSPORT_MAX}" in warning
    assert f"clipped to {TRANSPORT_MAX}" in warning and "1000000000" in warning
    assert modules.calq[0, 3] == 10**9  # the file's values, not silently rewritten


def test_charges_within_the_transport_load_without_a_warning(tmp_path, capsys):
    from training.data import load_modules

    load_modules([_write_csv(tmp_path / "ok.csv", [[TRANSPORT_MAX] * 48])])
    assert _warnings(capsys.readouterr().err) == []


def test_few_modules_from_files_draw_a_warning(tmp_path, capsys):
    from training.data import region_modules
    from training.regions import resolve_region

    rows = [[1 + i] * 48 for i in range(10)]
    _write_csv(tmp_path / "small.csv", rows)
    region = resolve_region(str(_write_region(tmp_path / "r.toml", ["small.csv"])))
    modules = region_modules(region, seed=1)
    (warning,) = _warnings(capsys.readouterr().err)
    assert len(modules) == 10
    assert "region mine" in warning and "small.csv" in warning
    assert "only 10 usable modules" in warning and "at least 10000 are recommended" in warning


def test_too_large_a_charge_for_64_bits_is_an_error_not_a_traceback(tmp_path):
    from training.data import DataError, load_modules

    path = _write_csv(tmp_path / "huge.csv", [[1e30] * 48])
    with pytest.raises(DataError, match=r"huge.csv:2: column CALQ_0: bad value '1e\+30' \(charge does "
                                        r"not fit a 64-bit count\)"):
        load_modules([path])



# --- outputs never destroy what asicgen did not write ---------------------------------

from asicgen.core.arch import EncoderArch  # noqa: E402
from asicgen.core.design import Design as _Design  # noqa: E402
from asicgen.core.weights import WeightSet as _WeightSet  # noqa: E402

SMALL = EncoderArch(conv_filters=2, dense_units=4)


def _weights_file(path: Path) -> Path:
    """A weights.json as `asicgen train` writes it, with random weights of a small network."""
    import json

    weights = _WeightSet.random(_Design.build(SMALL), np.random.default_rng(4))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "format": "asicgen-weights/1", "region": "cee_high_eta", "elinks": 5,
        "architecture": SMALL.to_raw(),
        "tensors": {name: {"shape": list(arr.shape), "values": arr.reshape(-1).tolist()}
                    for name, arr in weights.tensors.items()}}))
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _image_into_cwd_with_user_files(tmp: Path):
    weights = _weights_file(tmp / "run" / "weights.json")
    (tmp / "work").mkdir()
    (tmp / "work" / "thesis.tex").write_text("months of work")
    os.chdir(tmp / "work")
    return ["image", str(weights), "--out", str(tmp / "work")], "is the working folder"


def _image_into_dot(tmp: Path):
    _weights_file(tmp / "run" / "weights.json")
    os.chdir(tmp / "run")
    return ["image", "weights.json", "--out", "."], "is the working folder"


def _image_into_its_own_run(tmp: Path):
    _weights_file(tmp / "run1" / "weights.json")
    return ["image", str(tmp / "run1"), "--out", str(tmp / "run1")], "is the input"


def _hls_onto_its_weights_file(tmp: Path):
    weights = _weights_file(tmp / "run1" / "weights.json")
    return ["hls", str(weights), "--out", str(weights)], "is the input"


def _hls_into_a_folder_holding_its_input(tmp: Path):
    _weights_file(tmp / "proj" / "run" / "weights.json")
    return ["hls", str(tmp / "proj" / "run" / "weights.json"), "--out", str(tmp / "proj")], "holds the input"


def _image_into_a_user_folder(tmp: Path):
    weights = _weights_file(tmp / "run" / "weights.json")
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("keep me")
    return ["image", str(weights), "--out", str(tmp / "mine")], "is a folder asicgen did not write"


def _image_onto_a_user_file(tmp: Path):
    weights = _weights_file(tmp / "run" / "weights.json")
    (tmp / "notes.txt").write_text("keep me")
    return ["image", str(weights), "--out", str(tmp / "notes.txt")], "is an existing file"


def _tmr_onto_its_source(tmp: Path):
    (tmp / "good.v").write_text("module good(input clk, input d, output reg q);\n"
                                "  always @(posedge clk) q <= d;\nendmodule\n")
    return ["tmr", str(tmp / "good.v"), "-o", str(tmp / "good.v")], "is the input"


def _tmr_onto_a_user_file(tmp: Path):
    (tmp / "good.v").write_text("module good(input clk, input d, output reg q);\n"
                                "  always @(posedge clk) q <= d;\nendmodule\n")
    (tmp / "other.v").write_text("// hand-written, not generated\n")
    return ["tmr", str(tmp / "good.v"), "-o", str(tmp / "other.v")], "is not a hardened Verilog file"


def _data_onto_a_user_file(tmp: Path):
    (tmp / "results.csv").write_text("run,score\n1,0.5\n")
    return ["data", "--modules", "10", "--out", str(tmp / "results.csv")], "is not a module data file"


def _train_onto_an_existing_file(tmp: Path):
    (tmp / "run1").write_text("not a folder")
    return ["train", "--out", str(tmp / "run1")], "is an existing file"


def _train_into_a_read_only_place(tmp: Path):
    return ["train", "--out", "/proc/asicgen-run"], "cannot write in /proc"


def _train_over_a_user_folder(tmp: Path):
    (tmp / "analysis").mkdir()
    (tmp / "analysis" / "fit.py").write_text("print(1)")
    return ["train", "--out", str(tmp / "analysis")], "is a folder asicgen did not write"


def _flow_over_a_user_folder(tmp: Path):
    (tmp / "build").mkdir()
    (tmp / "build" / "Makefile").write_text("all:\n")
    return ["flow", "--out", str(tmp / "build")], "is a folder asicgen did not write"


OUTPUT_CASES = [
    _image_into_cwd_with_user_files, _image_into_dot, _image_into_its_own_run, _hls_onto_its_weights_file,
    _hls_into_a_folder_holding_its_input, _image_into_a_user_folder, _image_onto_a_user_file,
    _tmr_onto_its_source, _tmr_onto_a_user_file, _data_onto_a_user_file, _train_onto_an_existing_file,
    _train_into_a_read_only_place, _train_over_a_user_folder, _flow_over_a_user_folder]


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c.__name__.lstrip("_") for c in OUTPUT_CASES])
def test_an_output_path_never_destroys_what_asicgen_did_not_write(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, message = case(tmp_path)
    before = _snapshot(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = _error_lines(err)
    assert len(lines) == 1 and lines[0].startswith("asicgen: error: "), err
    assert message in lines[0]
    assert _snapshot(tmp_path) == before
    assert not [p for p in tmp_path.rglob(".*")], "a staging folder was left behind"


def test_train_refuses_its_output_before_importing_tensorflow(tmp_path):
    """The check comes before the expensive work: no TensorFlow, no data, no training."""
    import subprocess
    import sys

    (tmp_path / "run1").write_text("not a folder")
    code = ("import sys; from asicgen.cli import main; rc = main(['train', '--out', sys.argv[1]]); "
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run1")], capture_output=True,
                          text=True)
    assert proc.returncode == 2, proc.stderr
    assert "is an existing file" in proc.stderr
    assert (tmp_path / "run1").read_text() == "not a folder"


def test_outputs_replace_their_own_kind_and_need_force_for_another(tmp_path, capsys):
    weights = _weights_file(tmp_path / "run" / "weights.json")
    out = tmp_path / "out"
    assert main(["image", str(weights), "--out", str(out)]) == 0
    first = _snapshot(out)
    assert main(["image", str(weights), "--out", str(out), "--elinks", "3"]) == 0  # same kind: replaced
    assert _snapshot(out) != first and (out / "weights_i2c.txt").is_file()
    capsys.readouterr()
    assert main(["hls", str(weights), "--out", str(out)]) == 2  # another kind: refused ...
    assert "holds an earlier asicgen 'image' output" in capsys.readouterr().err
    assert (out / "weights_i2c.txt").is_file()
    assert main(["hls", str(weights), "--out", str(out), "--force"]) == 0  # ... unless forced
    assert (out / "src").is_dir() and not (out / "weights_i2c.txt").exists()
    (out / "my_notes.md").write_text("mine")  # a user file in an asicgen folder: never replaced
    assert main(["hls", str(weights), "--out", str(out), "--force"]) == 2
    assert "holds files asicgen did not write (my_notes.md)" in capsys.readouterr().err
    assert (out / "my_notes.md").read_text() == "mine"


def test_generate_into_an_older_run_leaves_no_stale_part(tmp_path):
    weights = _weights_file(tmp_path / "run" / "weights.json")
    out = tmp_path / "ip"
    assert main(["generate", str(weights), "--out", str(out), "--ii", "1"]) == 0
    assert (out / "hls").is_dir()
    assert main(["generate", str(weights), "--out", str(out), "--ii", "4", "--no-hls"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["image", "manifest.json", "rtl"]
    assert '"ii": 4' in (out / "rtl" / "manifest.json").read_text()


def test_outputs_respect_the_umask(tmp_path):
    weights = _weights_file(tmp_path / "run" / "weights.json")
    old = os.umask(0o027)
    try:
        assert main(["image", str(weights), "--out", str(tmp_path / "img")]) == 0
        assert main(["data", "--modules", "10", "--out", str(tmp_path / "d.csv")]) == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "img", *(tmp_path / "img").rglob("*"), tmp_path / "d.csv"]:
        expected = 0o750 if path.is_dir() else 0o640
        assert path.stat().st_mode & 0o777 == expected, path


def test_an_interrupt_swallowed_by_python_still_stops_the_swap(tmp_path):
    """CPython prints and drops a KeyboardInterrupt raised inside a weak-reference callback
    (as happens in matplotlib and Keras while they save); the request must still stop the
    output from being moved into place."""
    import signal
    import weakref

    from asicgen.core.atomic import install_interrupt_handler
    from asicgen.core.outputs import staged_folder, write_manifest

    target = tmp_path / "run"
    with staged_folder(target, "train") as stage:
        (stage / "weights.json").write_text("old")
        write_manifest(stage, "train", {})
    previous = signal.getsignal(signal.SIGINT)
    install_interrupt_handler()
    try:
        with pytest.raises(KeyboardInterrupt), staged_folder(target, "train") as stage:
            (stage / "weights.json").write_text("new")

            class Thing:
                pass

            thing = Thing()
            handler = signal.getsignal(signal.SIGINT)
            watcher = weakref.ref(thing, lambda ref: handler(signal.SIGINT, None))
            del thing  # the handler's KeyboardInterrupt is raised, printed and dropped here
            assert watcher() is None
            write_manifest(stage, "train", {})
    finally:
        signal.signal(signal.SIGINT, previous)
        import asicgen.core.atomic

        asicgen.core.atomic._interrupt_requested.clear()
    assert (target / "weights.json").read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- the set-up script -----------------------------------------------------------------

_ROOT = Path(__file__).resolve().parents[1]


def _installed_venv() -> bool:
    import hashlib

    stamp = _ROOT / ".venv" / ".asicgen-installed"
    want = hashlib.sha256((_ROOT / "pyproject.toml").read_bytes()
                          + (_ROOT / "requirements.lock").read_bytes()).hexdigest()
    return stamp.is_file() and stamp.read_text().strip() == want


@pytest.mark.skipif(not _installed_venv(), reason="needs the project's .venv, installed by scripts/env.sh")
def test_sourcing_env_sh_leaves_the_callers_shell_options_alone():
    """`source scripts/env.sh` (as the README says) must not turn on `set -euo pipefail` in the
    user's shell, where the next failing command would close the terminal."""
    import subprocess

    script = ('set +euo pipefail; source scripts/env.sh || exit 9; '
              'echo "options=$-"; shopt -qo pipefail && echo pipefail-on; '
              'false; echo "still here"; command -v asicgen')
    proc = subprocess.run(["bash", "-c", script], cwd=_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    options = next(line for line in proc.stdout.splitlines() if line.startswith("options="))
    assert "e" not in options.split("=")[1] and "u" not in options.split("=")[1]
    assert "pipefail-on" not in proc.stdout
    assert "still here" in proc.stdout
    assert proc.stdout.strip().endswith(str(_ROOT / ".venv" / "bin" / "asicgen"))


def test_tensorflow_starts_quietly_but_keeps_its_errors():
    """On a CPU machine TensorFlow's start-up notes read as failures; errors must still show."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = ("import os, training.model, warnings; "
            "print(os.environ['TF_CPP_MIN_LOG_LEVEL']); "
            "import tensorflow as tf; tf.get_logger()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"  # 2 hides info and warnings; 3 would hide errors too
    noise = [line for line in proc.stderr.splitlines()
             if "cpu_feature_guard" in line or "Unable to register" in line or "UserWarning" in line]
    assert not noise, noise


def test_loading_a_trained_model_prints_no_keras_warning(trained_networks):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "asicgen.cli", "describe", str(trained_networks["default"])],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "cpu_feature_guard" not in proc.stderr, proc.stderr
