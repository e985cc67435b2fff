"""Hand-designed RTL around the generated datapath: the I2C target and the register file."""

from rtl_wrappers.generate import render_wrappers

__all__ = ["render_wrappers"]
