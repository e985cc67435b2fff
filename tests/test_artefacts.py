"""The folders passed between stages are typed (`asicgen.core.artefacts`): one class per kind
reads each manifest and result file, an IP is a generate folder or a flow folder alike, and a
foreign or damaged folder is refused with where and why. A test over the source keeps every
other module from reading those files by string key."""

import ast
import json
import shutil
from pathlib import Path

import pytest

from asicgen.core import artefacts
from asicgen.core.artefacts import ArtefactError, FlowFolder, Ip, RtlTree, TrainRun, WeightImage
from asicgen.core.outputs import FLOW_KIND, write_manifest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_IP = ROOT / "examples" / "default"
PACKAGES = ("asicgen", "training", "rtl_wrappers", "tmr", "verif")

#: the modules that may parse JSON, and what they parse: each one file kind it owns, or the
#: output of a tool (yosys, the testbenches). Manifests and the result files between stages
#: are read only by asicgen.core.artefacts.
JSON_READERS = {
    "asicgen/core/artefacts.py": "manifests, metrics.json, synth.json",
    "asicgen/core/outputs.py": "the output policy: is a folder asicgen's own, and of which kind",
    "asicgen/core/raw.py": "the user's configuration files",
    "asicgen/core/weights.py": "weights.json (WeightsFile.from_raw)",
    "asicgen/gate.py": "gatesim.json (NetlistFigures.from_raw)",
    "asicgen/gate_faults.py": "the fault testbench's statistics",
    "asicgen/synth.py": "yosys' stat.json",
    "asicgen/tmr_command.py": "recognises its own TMR report before overwriting it",
    "tmr/equiv.py": "yosys JSON netlists", "tmr/flow.py": "yosys JSON netlists",
    "tmr/netlist.py": "yosys JSON netlists", "tmr/proof.py": "yosys JSON netlists",
    "tmr/rate.py": "the TMR report (Inventory.from_raw)",
    "verif/i2c_fuzz.py": "the fuzz testbench's summary", "verif/i2c_timing.py": "the timing testbench's row",
    "verif/runner.py": "cocotb's results", "verif/set_build.py": "yosys JSON netlists",
    "verif/tb_throughput.py": "the throughput testbench's report",
}
#: file names of manifests and results between stages: named only where they are written or read
STAGE_FILES = {"manifest.json", "metrics.json", "synth.json"}
STAGE_FILE_OWNERS = {"asicgen/core/outputs.py", "asicgen/core/artefacts.py", "training/train.py",
                     "asicgen/synth.py"}


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _json_reads(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr in ("load", "loads")
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "json"]


def test_only_the_owners_parse_json():
    found = [f"{name}:{line} parses JSON" for name, tree in _sources() if name not in JSON_READERS
             for line in _json_reads(tree)]
    advice = "read it with asicgen.core.artefacts (or make the module an owner):\n"
    assert not found, advice + "\n".join(found)


def test_only_the_artefact_classes_read_manifests():
    found = [f"{name}:{node.lineno} calls read_manifest" for name, tree in _sources()
             if name not in ("asicgen/core/outputs.py", "asicgen/core/artefacts.py")
             for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == "read_manifest"]
    assert not found, "\n".join(found)


def test_stage_files_are_named_only_by_their_owners():
    found = [f"{name}:{node.lineno} names {node.value}" for name, tree in _sources()
             if name not in STAGE_FILE_OWNERS for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in STAGE_FILES]
    assert not found, "\n".join(found)


def test_the_checker_sees_a_json_read():
    tree = ast.parse("import json\nx = json.loads(open('manifest.json').read())['kind']\n")
    assert _json_reads(tree) == [2]


def test_a_generate_folder_is_an_ip():
    ip = Ip.open(EXAMPLE_IP)
    assert ip.design.summary().startswith("4x4x3 encoder")
    assert ip.rtl is not None and ip.rtl.file_order and ip.rtl.sources[0].is_file()
    assert ip.image is not None and ip.image.design == ip.design and ip.hls is not None
    assert ip.hardened is None and not ip.changed_files()
    assert set(ip.rtl_sha256()) == {f"rtl/{name}" for name in [*ip.rtl.file_names(), "manifest.json"]}


def _copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def _flow_folder(tmp_path: Path) -> Path:
    """A flow folder as the flow leaves it, from the example IP's parts."""
    flow = tmp_path / "flow"
    for part in ("rtl", "image", "hls"):
        shutil.copytree(EXAMPLE_IP / part, flow / part)
    stages = [{"stage": "rtl", "ok": True, "seconds": 1.5, "result": "done"}]
    write_manifest(flow, FLOW_KIND, {"command": "asicgen flow --out flow", "status": "passed",
                                     "stages": stages})
    return flow


def test_a_flow_folder_is_an_ip_too(tmp_path):
    flow = _flow_folder(tmp_path)
    ip = Ip.open(flow)
    assert ip.design == Ip.open(EXAMPLE_IP).design and ip.command == "asicgen flow --out flow"
    folder = FlowFolder.open(flow)
    assert folder.status == "passed" and folder.stages()[0].seconds == 1.5 and folder.train_run() is None


def test_foreign_and_damaged_folders_are_refused_with_where_and_why(tmp_path):
    with pytest.raises(ArtefactError, match="no such folder"):
        Ip.open(tmp_path / "nowhere")
    (tmp_path / "mine").mkdir()
    with pytest.raises(ArtefactError, match=r"mine: not an IP .*no asicgen manifest\.json"):
        Ip.open(tmp_path / "mine")
    with pytest.raises(ArtefactError, match=r"image is the image/ part of an IP: give the IP's folder"):
        Ip.open(EXAMPLE_IP / "image")
    with pytest.raises(ArtefactError, match=r"holds an asicgen 'image' output \(asicgen image\), not an IP"):
        Ip.open(_copy(EXAMPLE_IP / "image", tmp_path / "img"))
    with pytest.raises(ArtefactError, match="not a training run"):
        TrainRun.open(EXAMPLE_IP)
    flow = _flow_folder(tmp_path)
    shutil.rmtree(flow / "rtl")
    with pytest.raises(ArtefactError, match="the IP has no generated RTL"):
        Ip.open(flow)
    newer = tmp_path / "newer"
    shutil.copytree(EXAMPLE_IP / "image", newer)
    raw = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**raw, "schema": artefacts.SCHEMA + 1}))
    with pytest.raises(ArtefactError, match="newer than this asicgen reads"):
        WeightImage.open(newer)
    raw.pop("design")
    (newer / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ArtefactError, match=r"newer/manifest\.json: no 'design' field"):
        WeightImage.open(newer)


def test_an_edited_file_is_seen(tmp_path):
    copy = tmp_path / "ip"
    shutil.copytree(EXAMPLE_IP, copy)
    rtl = RtlTree.open(copy / "rtl")
    rtl.sources[0].write_text(rtl.sources[0].read_text() + "// edited\n")
    assert Ip.open(copy).changed_rtl() == [f"rtl/{rtl.sources[0].name}"]
    with pytest.raises(ArtefactError, match="files differ from the IP's manifest.json"):
        Ip.open(copy).check_unchanged()
