"""How long programming the weight image over I2C takes, measured in RTL simulation.

Runs the `test_full_image` cocotb test (write the whole image in bursts, read it
back) on the generated ae_i2c_target + ae_regfile at each SCL frequency and
prints SCL cycles, simulated time and wall-clock time next to the count
predicted from the transaction list.

    python -m verif.i2c_timing [--out DIR] [--scl 400e3 1e6] [--arch default]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.i2c import DEFAULT_BURST, DEFAULT_DEVICE_ADDRESS
from verif.i2c_launch import run_i2c, write_wrappers

#: 8 bits + ACK
BYTE_SCL_CYCLES = 9


def predicted_scl_cycles(n_bytes: int, burst: int = DEFAULT_BURST) -> int:
    """SCL rising edges to write `n_bytes` in bursts: device + 2 address bytes + data, then STOP."""
    bursts = -(-n_bytes // burst)
    return BYTE_SCL_CYCLES * (3 * bursts + n_bytes) + bursts


def measure(design: Design, scl_hz: float, build: Path, device_address: int = DEFAULT_DEVICE_ADDRESS) -> dict:
    sources = write_wrappers(design, build / "rtl", "python -m verif.i2c_timing")
    timing = build / f"timing_{int(scl_hz)}.json"
    t0 = time.perf_counter()
    result = run_i2c(sources, design, build / "sim", "verif.tb_i2c", "test_full_image", optimise=True,
                     device_address=device_address, full_image_scl_hz=scl_hz, timing_file=str(timing))
    if result.failed or not timing.exists():
        raise RuntimeError(f"full-image test failed at {scl_hz:g} Hz; see {build / 'sim'}")
    row = json.loads(timing.read_text())
    row.update(predicted_scl_cycles=predicted_scl_cycles(design.image_bytes),
               build_s=round(result.build_seconds, 1), run_s=round(result.run_seconds, 1),
               total_s=round(time.perf_counter() - t0, 1))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="build folder (default: a temporary one)")
    parser.add_argument("--scl", type=float, nargs="+", default=[400e3, 1e6], help="SCL frequencies in Hz")
    parser.add_argument("--arch", default="default", help="architecture preset")
    args = parser.parse_args(argv)
    design = Design.build(EncoderArch.preset(args.arch))
    out = args.out or Path(tempfile.mkdtemp(prefix="i2c_timing_"))
    rows = [measure(design, scl, out) for scl in args.scl]
    print(f"{design.summary()}: {design.image_bytes} bytes, bursts of {DEFAULT_BURST}")
    print(f"{'SCL':>9} {'SCL cycles':>10} {'predicted':>9} {'program ms':>10} {'clocks':>9} "
          f"{'readback ms':>11} {'run s':>6}")
    for r in rows:
        print(f"{r['scl_hz'] / 1e3:>6.0f}kHz {r['program_scl_cycles']:>10} {r['predicted_scl_cycles']:>9} "
              f"{r['program_ns'] / 1e6:>10.2f} {r['program_clocks']:>9} {r['readback_ns'] / 1e6:>11.2f} "
              f"{r['run_s']:>6}")
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
