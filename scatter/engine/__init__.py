"""CPU inference engines: optimised, inference-only twins of the plain cascades in
:mod:`scatter.core` (in-place MKL FFTs, reused workspaces, worker threads).

Private: networks pick an engine through :meth:`scatter._base.ScatteringBase._use_engine`.
"""
