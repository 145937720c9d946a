"""Look inside networks: activation monitors, linear regions, and plots of a run folder."""

from actlab.inspect.regions import (
    PlaneRegions as PlaneRegions,
    SegmentRegions as SegmentRegions,
    activation_patterns as activation_patterns,
    regions_in_ball as regions_in_ball,
    regions_in_plane as regions_in_plane,
    regions_on_segment as regions_on_segment,
)

__all__ = [
    "PlaneRegions",
    "SegmentRegions",
    "activation_patterns",
    "regions_in_ball",
    "regions_in_plane",
    "regions_on_segment",
]
