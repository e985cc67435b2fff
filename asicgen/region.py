"""Detector-region jobs on a fixed chip: `asicgen region retrain`.

A chip runs a different compression per region by loading new weights; its RTL never
changes. `retrain` takes an IP written by `asicgen generate`, trains the region's network
with that IP's architecture, writes the weight image and its I2C transactions, and proves
with cocotb that the IP's own RTL, untouched (sha256 checked before and after), reproduces
the model with the new weights after programming them over I2C. A region that would need
another architecture, or an e-link budget the IP does not offer, is refused with the reason
before anything is trained.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from asicgen.core.arch import EncoderArch
from asicgen.core.artefacts import Ip
from asicgen.core.image import write_image
from asicgen.core.outputs import check_folder_output, staged_folder, write_manifest
from asicgen.core.raw import ConfigError, load_config_file
from asicgen.sources import load_network
from verif.program_check import ProgrammedRegion, verify_programmed

REGION_KIND = "region"


def load_ip(folder: Path) -> Ip:
    """The IP in `folder` (of `asicgen generate` or `asicgen flow`), its RTL as generated."""
    ip = Ip.open(folder)
    changed = ip.changed_rtl()
    if changed:
        raise ConfigError(f"{folder}: the IP's RTL differs from its manifest ({', '.join(changed)}): "
                          "it is not the RTL that was generated")
    return ip


def requested_architecture(region_arg: str) -> EncoderArch | None:
    """The architecture a region file asks for ([architecture]), None for a preset or a file without one."""
    path = Path(region_arg)
    if path.suffix not in (".toml", ".json"):
        return None
    raw = load_config_file(path)
    if not isinstance(raw, dict) or "architecture" not in raw:
        return None
    return EncoderArch.from_raw(raw["architecture"], f"{path}: architecture")


def check_fits(ip: Ip, region_arg: str, region_name: str, elinks: int) -> None:
    """Refuse, with the reason, a region this chip cannot run."""
    wanted = requested_architecture(region_arg)
    if wanted is not None and wanted != ip.design.arch:
        differences = [f"{k} {v} (the IP has {ip.design.arch.to_raw()[k]})"
                       for k, v in wanted.to_raw().items() if ip.design.arch.to_raw()[k] != v]
        raise ConfigError(f"region {region_name}: its file asks for another architecture than the IP in "
                          f"{ip.folder} ({'; '.join(differences)}); a fixed chip only loads new weights: "
                          "generate a new IP for it")
    modes = [m.elinks for m in ip.design.elink_modes]
    if elinks not in modes:
        raise ConfigError(f"region {region_name}: {elinks} e-links, but the IP offers "
                          f"{', '.join(map(str, modes))}")


@dataclass(frozen=True)
class RetrainResult:
    passed: bool
    modules: int
    summary: str


def retrain(ip_dir: Path, region_arg: str, out: Path, overrides: dict[str, Any], command: str,
            force: bool = False, stream: TextIO | None = None,
            modules_per_region: int = 300) -> RetrainResult:
    """Train `region_arg` for the IP in `ip_dir`, write its image, prove the IP's RTL runs it."""
    log = stream if stream is not None else sys.stderr
    ip = load_ip(ip_dir)
    out = check_folder_output(out, REGION_KIND, force=force, inputs=[ip_dir])
    from training.train import load_job, train_region, with_overrides  # TensorFlow: after the checks

    job = with_overrides(load_job(region_arg), **overrides)
    check_fits(ip, region_arg, job.region.name, job.region.elinks)
    job = replace(job, arch=ip.design.arch)
    print(f"[region] {job.region.name} ({job.region.elinks} e-links) for the IP in {ip_dir}: "
          f"{ip.design.summary()}", file=log)
    with staged_folder(out, REGION_KIND, force=force) as stage:
        train_region(job, stage / "train", log, command=command, shown=out / "train")
        network = load_network(stage / "train", ii=ip.design.ii)
        if network.design.digest() != ip.design.digest():
            raise ConfigError(f"internal error: the retrained network is {network.design.summary()}, "
                              f"the IP {ip.design.summary()}")
        image = write_image(stage / "image", network.weights, network.elinks, command)
        print(f"[region] image -> {out / 'image'}; programming it over I2C into the IP's untouched RTL and "
              "streaming against the model (cocotb + Verilator, the build takes minutes)", file=log)
        region = ProgrammedRegion(job.region.name, network.weights, network.elinks or job.region.elinks,
                                  str(image.files["weights_i2c.txt"]))
        sim = verify_programmed(ip.folder / "rtl", [region], stage / "sim", modules_per_region)
        changed = ip.changed_rtl()
        passed = sim.tests > 0 and sim.failed == 0 and not changed
        if passed:
            summary = (f"{sim.tests} of {sim.tests} cocotb tests passed: programmed over I2C, read back, "
                       f"{modules_per_region} modules streamed bit-exact by the IP's untouched RTL")
        else:
            summary = (f"FAILED: {sim.failed} of {sim.tests} cocotb tests failed"
                       + (f"; RTL changed during the run: {', '.join(changed)}" if changed else ""))
        write_manifest(stage, REGION_KIND, {
            "command": command, "region": job.region.name, "elinks": region.elinks, "ip": str(ip.folder),
            "ip_design_sha256": ip.design.digest(), "ip_rtl_sha256": ip.rtl_sha256(), "passed": passed,
            "result": summary})
    print(f"[region] {summary}; {out}", file=log)
    return RetrainResult(passed, modules_per_region, summary)
