"""Activation families. Each family module holds its functions, modules and registrations.

Families are imported by the `actlab.functional` / `actlab.nn` facades; PyTorch's own
activations (no exports of ours) are registered here.
"""

from actlab.activations import torch_native as torch_native
