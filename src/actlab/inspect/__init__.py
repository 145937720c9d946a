"""Look inside networks: activation monitors, linear regions, and plots of a run folder."""

from actlab.inspect.monitors import (
    CSV_COLUMNS as CSV_COLUMNS,
    LayerStats as LayerStats,
    Monitor as Monitor,
    default_saturation as default_saturation,
    saturation_mask as saturation_mask,
)
from actlab.inspect.plots import plot_plane_regions as plot_plane_regions
from actlab.inspect.regions import (
    PlaneRegions as PlaneRegions,
    SegmentRegions as SegmentRegions,
    activation_patterns as activation_patterns,
    regions_in_ball as regions_in_ball,
    regions_in_plane as regions_in_plane,
    regions_on_segment as regions_on_segment,
)

__all__ = [
    "CSV_COLUMNS",
    "LayerStats",
    "Monitor",
    "PlaneRegions",
    "SegmentRegions",
    "activation_patterns",
    "default_saturation",
    "plot_plane_regions",
    "regions_in_ball",
    "regions_in_plane",
    "regions_on_segment",
    "saturation_mask",
]
