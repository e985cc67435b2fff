"""Triple modular redundancy as a transformation of synthesisable RTL (SPEC section 9)."""
