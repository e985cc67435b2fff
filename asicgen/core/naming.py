"""Every name and type spelling the generators emit, computed in one place.

Templates print these strings; they never build a name or a width themselves.
"""

from __future__ import annotations

from asicgen.core.arch import FixedType

TOP = "ae_top"
CONVERTER = "ae_converter"
ENCODER = "ae_encoder"
TESTBENCH = "tb_ae_top"
TOP_FILE = f"{TOP}.sv"

# ae_top's instances: the TMR policy selects registers by these prefixes of their names
I2C_INSTANCE = "u_i2c"
REGFILE_INSTANCE = "u_regfile"
CORE_INSTANCE = "u_core"
TMR_HOOK_INSTANCE = "u_tmr_hook"
#: the register file's weight image register (declared in rtl_wrappers' ae_regfile template)
WEIGHTS_REGISTER = "weights_q"
#: the register file's e-link mode and enable registers (same template)
ELINKS_REGISTER = "elinks_q"
ENABLE_REGISTER = "enable_q"


def next_state(register: str) -> str:
    """The next-state signal of a register (`weights_q` -> `weights_d`, the `_d`/`_q` convention)."""
    if not register.endswith("_q"):
        raise ValueError(f"register {register!r}: register names end in _q")
    return register[:-2] + "_d"


def regfile_register(register: str) -> str:
    """The hierarchical name of a register-file register below ae_top, e.g. `u_regfile.weights_q`."""
    return f"{REGFILE_INSTANCE}.{register}"

#: the I2C target's pad synchronisers (declared in rtl_wrappers' ae_i2c_target template)
PAD_SYNC_REGISTER = "sync_q"
#: the cell the TMR pass replaces with the voters' flags, and its output ports
TMR_HOOK = "ae_tmr_hook"
TMR_HOOK_FLAGS_PORT = "flags_o"
TMR_HOOK_UPSET_PORT = "upset_o"
#: ae_top's error pin and the register behind it
TMR_ERR_PORT = "tmr_err"
TMR_ERR_REGISTER = f"{TMR_ERR_PORT}_q"
#: the TMR policy beside the generated RTL (`asicgen tmr` reads it when it hardens that RTL)
TMR_POLICY_FILE = "tmr_policy.toml"

#: the datapath's files (ae_core and below), leaves first
DATAPATH_FILES = ("ae_dot.sv", "ae_requant.sv", "ae_converter.sv", "ae_encoder.sv", "ae_core.sv")
#: the files rendered from the core templates: the datapath and the TMR hook
CORE_FILES = (*DATAPATH_FILES, f"{TMR_HOOK}.sv")
#: every file of the generated RTL in compile order: leaves first
FILE_ORDER = (*CORE_FILES, "ae_i2c_target.sv", "ae_regfile.sv", TOP_FILE)

#: the bunch-crossing clock (SPEC section 7): 40 MHz
CLOCK_PERIOD_NS = 25.0
CLOCK_MHZ = round(1000 / CLOCK_PERIOD_NS)

AC_ROUNDING = {"convergent": "AC_RND_CONV", "truncate": "AC_TRN"}
AC_OVERFLOW = {"saturate": "AC_SAT", "wrap": "AC_WRAP"}


def ac_int(bits: int, signed: bool = False) -> str:
    return f"ac_int<{bits}, {'true' if signed else 'false'}>"


def ac_fixed(t: FixedType) -> str:
    sign = "true" if t.signed else "false"
    if (t.rounding, t.overflow) == ("truncate", "wrap"):
        return f"ac_fixed<{t.bits}, {t.integer_bits}, {sign}>"
    modes = f"{AC_ROUNDING[t.rounding]}, {AC_OVERFLOW[t.overflow]}"
    return f"ac_fixed<{t.bits}, {t.integer_bits}, {sign}, {modes}>"


def tensor_member(name: str) -> str:
    """Member of the weights struct holding tensor `name`."""
    return name


def hls_project_name(ii: int) -> str:
    return f"{TOP}_ii{ii}"
