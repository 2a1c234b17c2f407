"""The scattering cascades in plain torch: one function per dimension that reads like the
equations, used for autograd, CUDA and ``torch.compile``. The CPU inference engines
(:mod:`scatter.engine`) compute the same coefficients faster and are tested against these."""
from .cascade1d import Filters1D, Scale1D, cascade1d
from .cascade2d import Filters2D, Scale2D, cascade2d
from .cascade3d import Filters3D, cascade3d
from .roto2d import RotoFilters2D, RotoScale2D, roto_cascade2d

__all__ = ["cascade1d", "cascade2d", "cascade3d", "Filters1D", "Filters2D", "Filters3D", "Scale1D",
           "Scale2D", "RotoFilters2D", "RotoScale2D", "roto_cascade2d"]
