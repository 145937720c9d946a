"""The core layer: registry, validation, spec parsing, fused kernels, native builds and atomic I/O.

Everything here imports only torch, numpy and the standard library, and nothing of actlab above
it: families build on the core, tools build on families.
"""
