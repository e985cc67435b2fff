"""What the testbenches take from the design: the clock, and the values of the wrapper parameters.

Every test wrapper (verif/*.sv) declares the widths it needs as parameters with neutral defaults,
and every build passes the design's values for exactly the parameters the wrapper declares:
Verilator refuses a `-G` for a parameter the top level does not have, and a default left in
place would build a wrapper of the wrong width without a word. One name means one thing in
every wrapper, as in ae_core: `TcBits` is one TC code, `OutBits` one output.
"""

from __future__ import annotations

import re
from pathlib import Path

from asicgen.core.design import Design
from asicgen.core.naming import CLOCK_PERIOD_NS
from asicgen.core.regmap import RegisterMap

#: the bunch-crossing clock in whole nanoseconds: the testbenches draw random instants inside a
#: clock with `random.randrange`, which takes integers only
CLOCK_NS = int(CLOCK_PERIOD_NS)
if CLOCK_NS != CLOCK_PERIOD_NS:
    raise ValueError(f"the testbenches need a whole number of nanoseconds per clock, not {CLOCK_PERIOD_NS}")

_PARAMETER = re.compile(r"\bparameter\s+(?:int\s+unsigned|int|real)\s+(\w+)\s*=")


def design_parameters(design: Design) -> dict[str, int | float]:
    """Every value a test wrapper takes from `design`, under its parameter name."""
    converter, regmap = design.converter, RegisterMap.for_design(design)
    return {"NumTc": converter.n_tc, "TcBits": converter.tc_code.bits, "SumBits": converter.sum_code.bits,
            "Units": design.n_outputs, "OutBits": design.output_type.bits,
            "ImageBytes": design.image_bytes, "ImageBits": design.image_bits,
            "ModeBits": regmap.reg.ELINK_MODE.field.elinks.width, "NFlags": len(regmap.flag_register.fields),
            "II": design.ii, "Latency": design.latency, "ClockNs": CLOCK_PERIOD_NS}


def declared_parameters(wrapper: Path) -> list[str]:
    """The names of the parameters `wrapper` (a SystemVerilog file) declares, in order."""
    return _PARAMETER.findall(Path(wrapper).read_text())


def wrapper_parameters(design: Design, wrapper: Path, **settings: int | float) -> dict[str, int | float]:
    """A value for every parameter `wrapper` declares: the design's, or a test's own `settings`
    (e.g. the glitch filter of the I2C wrapper)."""
    names = declared_parameters(wrapper)
    values = {**design_parameters(design), **settings}
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"{Path(wrapper).name}: no value for its parameters {', '.join(missing)}")
    unused = sorted(set(settings) - set(names))
    if unused:
        raise ValueError(f"{Path(wrapper).name} declares no parameters {', '.join(unused)}")
    return {name: values[name] for name in names}
