"""Linear inequality constraints on activations (Frerix, Nießner, Cremers, arXiv:1902.01785).

`ConeLayer` / `PolyhedronLayer` produce outputs that satisfy ``A z <= 0`` / ``A z <= b`` by
construction (generators from the double description method, `v_representation`); `project` is
the exact Euclidean projection baseline and `max_violation` measures how far outputs are off.
"""

from actlab.constraints.geometry import GeneratorCountWarning, VRepresentation, v_representation
from actlab.constraints.layers import ConeLayer, PolyhedronLayer, cone_combination, polyhedron_combination
from actlab.constraints.projection import OSQPProjector, max_violation, project
from actlab.constraints.vae import ConstrainedVAE, checkerboard_constraints

__all__ = [
    "ConeLayer",
    "ConstrainedVAE",
    "GeneratorCountWarning",
    "OSQPProjector",
    "PolyhedronLayer",
    "VRepresentation",
    "checkerboard_constraints",
    "cone_combination",
    "max_violation",
    "polyhedron_combination",
    "project",
    "v_representation",
]
