"""The ground floor: the contract every layer of asicgen stands on.

Geometry, codecs and normalisation of the trigger cells, the network architecture and the
typed design description, naming, the register map and the register-file model, the weight
set and its file, the bit-exact model, strict parsing of raw input, stamped and atomic
output. Nothing here imports any other part of the project (tests/test_layering.py).
"""
