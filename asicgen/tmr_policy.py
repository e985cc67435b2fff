"""The TMR policy of the generated ae_top (SPEC section 9), for the generic TMR pass (tmr/).

Built from the design's register map (the error classes are the fields of the TMR_ERR
status register, in order) and the instance, register and hook names of
`asicgen.core.naming`. `asicgen generate` writes it beside the RTL as `tmr_policy.toml`;
`asicgen tmr` and `asicgen generate --tmr` read it from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asicgen.core import naming
from asicgen.core.arch import EncoderArch
from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.regmap import RegisterMap
from asicgen.core.render import Stamp
from tmr.policy import Policy


def error_classes(design: Design) -> list[str]:
    """The voters' error classes: the TMR_ERR fields, flag k is bit k."""
    return [f.name for f in RegisterMap.for_design(design).reg.TMR_ERR.fields]


#: how the ae_top policy protects its state: full module triplication, as ECON-T's weight store
#: (`asicgen tmr --full-scheme full-shared` measures the one-voter scheme of earlier releases)
FULL = "full"


def ae_top_policy_raw(design: Design) -> dict[str, Any]:
    regfile, i2c, core = naming.REGFILE_INSTANCE, naming.I2C_INSTANCE, naming.CORE_INSTANCE
    return {
        "rules": [
            {"match": f"{regfile}.{naming.WEIGHTS_REGISTER}", "policy": FULL, "class": "weights"},
            {"match": f"{regfile}.*", "policy": FULL, "class": "config"},
            # the registered error pin: status, like the sticky flags it mirrors
            {"match": naming.TMR_ERR_REGISTER, "policy": FULL, "class": "config"},
            # pad synchronisers see asynchronous edges: three copies could resolve one differently
            # and report a false upset; an upset there is a one-clock glitch the filter removes
            {"match": f"{i2c}.*.{naming.PAD_SYNC_REGISTER}", "policy": "none", "class": "fsm"},
            {"match": f"{i2c}.*", "policy": FULL, "class": "fsm"},
            {"match": f"{core}.*", "policy": "pipeline", "class": "datapath"},
        ],
        "default": FULL,
        "classes": error_classes(design),
        "hook": {"cell_type": naming.TMR_HOOK, "flags_port": naming.TMR_HOOK_FLAGS_PORT,
                 "upset_port": naming.TMR_HOOK_UPSET_PORT},
        "error_port": naming.TMR_ERR_PORT,
    }


def ae_top_policy(design: Design | None = None) -> Policy:
    """The ae_top policy. The error classes come from the register map, which has the same
    TMR_ERR fields for every architecture: without a design, the default one's."""
    chosen = design if design is not None else Design.build(EncoderArch())
    return Policy.from_raw(ae_top_policy_raw(chosen), "ae_top policy")


def policy_file(design: Design, stamp: Stamp) -> str:
    """`tmr_policy.toml` for the RTL directory: the stamp as TOML comments, then the policy."""
    return stamp.header(naming.TMR_POLICY_FILE) + ae_top_policy(design).to_toml()


def load_rtl_policy(rtl_dir: Path) -> Policy:
    """The policy `asicgen generate` wrote beside the RTL in `rtl_dir`."""
    path = Path(rtl_dir) / naming.TMR_POLICY_FILE
    if not path.is_file():
        raise ConfigError(f"{rtl_dir}: no {naming.TMR_POLICY_FILE} beside the RTL; regenerate the RTL "
                          "(asicgen generate) to write it")
    return Policy.load(path)
