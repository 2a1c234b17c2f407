"""The fast discrete curvelet transform by wrapping, as a torch module (CPU/CUDA, autograd).

Each wedge's windowed spectrum ``U_(j,l) * fft2(x)`` is wrapped onto a small box of size
``(L0, L1)`` (Candès, Demanet, Donoho, Ying 2006, section 3.3): every frequency ``k`` of the
wedge's support, lifted to the integers near the wedge centre, goes to ``k mod (L0, L1)``. The box
is the smallest for which this map is injective on the support (one side spans the support along
one axis, the other the longest run along the other axis at fixed first coordinate), so the wrap
is an isometry and the inverse FFT of the box gives the wedge's coefficients: samples of
``x * psi_(j,l)`` on a ``(M / L0, N / L1)``-spaced grid. With orthonormal FFTs and
``sum U^2 = 1`` the transform is a Parseval (tight) frame: its inverse is its adjoint.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ._input import COMPLEX_DTYPES, REAL_DTYPES, check_finite, check_tensor
from .curvelet import curvelet_windows, validate_curvelet_args


def _next_fast(n: int) -> int:
    """Smallest integer ``>= n`` whose prime factors are in {2, 3, 5, 7} (fast FFT sizes)."""
    while True:
        m = n
        for p in (2, 3, 5, 7):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _lift(index: np.ndarray, shape: tuple[int, int], centre: tuple[int, int]):
    """Integer frequencies ``(k0, k1)`` of flat grid indices, lifted to the range nearest
    ``centre``."""
    M, N = shape
    k0, k1 = np.divmod(index, N)
    k0 = (k0 - centre[0] + M // 2) % M - M // 2 + centre[0]
    k1 = (k1 - centre[1] + N // 2) % N - N // 2 + centre[1]
    return k0, k1


def _min_boxes(k0: np.ndarray, k1: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """The two minimal injective wrap boxes of a support.

    ``(span of k0, longest run of k1 at fixed k0)`` and ``(longest run of k0 at fixed k1,
    span of k1)``: points that agree modulo such a box agree on the spanned axis, hence lie on
    one run of the other axis, shorter than the box: the wrap is injective.
    """
    def runs(a, b):
        order = np.lexsort((b, a))
        a_s, b_s = a[order], b[order]
        starts = np.flatnonzero(np.r_[True, a_s[1:] != a_s[:-1]])
        ends = np.r_[starts[1:], a_s.size] - 1
        return int(a_s[-1] - a_s[0] + 1), int((b_s[ends] - b_s[starts]).max() + 1)

    span0, run1 = runs(k0, k1)
    span1, run0 = runs(k1, k0)
    return (span0, run1), (run0, span1)


class CurveletTransform(nn.Module):
    """Fast discrete curvelet transform (wrapping) and its exact inverse, batched, differentiable.

    Input: ``x`` is a ``torch.Tensor`` of float32 or float64 (complex64 or complex128 too when
    ``real=False``); the windows, designed in float64, are converted to that precision (once per
    device and dtype, never upcast from float32) and the coefficients come out in it (complex64
    with float32, complex128 with float64). Any other dtype (float16, bfloat16, integers, bool;
    complex when ``real=True``) raises a ``TypeError``, NaN or inf in ``x`` (or in the
    coefficients given to :meth:`inverse`) a ``ValueError`` unless ``check_input=False``, and an
    empty batch (a leading dimension of 0) gives empty coefficients of the right shapes.

    Parameters
    ----------
    shape : (int, int)
        Image shape ``(M, N)``; needs ``min(shape) >= 2 ** (scales + 2)``.
    scales : int
        Number of scales including the low-pass (CurveLab's ``nbscales``), ``>= 2``.
    angles : int
        Wedges at the coarsest band-pass scale, a multiple of 4, ``>= 8`` (default 16).
    finest : {'curvelets', 'wavelets'}
        Wedges at the finest scale, or one isotropic undecimated band (redundancy about 2.8
        instead of about 6).
    real : bool
        ``True``: real images; curvelet scales keep the wedges with centre angle in
        ``[-pi/4, 3pi/4)`` (the others are their conjugates), scaled by ``sqrt(2)``, as complex
        coefficients; the low-pass and the isotropic finest band are real. ``False``: complex
        images, every wedge, complex coefficients.
    check_input : bool
        Check the input of :meth:`forward` and :meth:`inverse` for NaN/inf (one device-to-host
        synchronisation per call); ``False`` skips it.

    Notes
    -----
    ``forward(x)`` takes ``x`` of shape ``(..., M, N)`` (float32/float64; complex64/complex128
    when ``real=False``) and returns ``coeffs``, a list of ``scales`` lists:

    - ``coeffs[j][l]`` for ``j < J = scales - 1``: wedge ``l`` of scale ``j`` (0 finest), shape
      ``(..., L0, L1)`` = :attr:`coefficient_shapes` ``[j][l]``, ordered as the filters of
      ``curvelet_2d(shape, scales, angles, finest, real)`` (same ``'theta'``);
    - ``coeffs[J][0]``: the low-pass. ``coeffs[j]`` is CurveLab's ``C{scales - j}``.

    ``sum |coeffs|^2 = ||x||^2`` (a Parseval frame); :meth:`inverse` is the adjoint and the exact
    inverse. Windows are designed once in float64 NumPy and copied to each device and dtype on
    first use (the module has no parameters or buffers; ``.to(device)`` is not needed).

    Examples
    --------
    >>> import torch
    >>> from scatter.filters import CurveletTransform
    >>> T = CurveletTransform((64, 48), scales=3, angles=8)
    >>> x = torch.randn(2, 64, 48, dtype=torch.float64)
    >>> c = T(x)
    >>> torch.allclose(T.inverse(c), x)
    True
    """

    def __init__(self, shape, scales: int, angles: int = 16, finest: str = "curvelets",
                 real: bool = True, check_input: bool = True) -> None:
        super().__init__()
        shape, scales, angles, finest, real = validate_curvelet_args(shape, scales, angles, finest,
                                                                     real)
        if not isinstance(check_input, (bool, np.bool_)):
            raise TypeError(f"check_input must be True or False, got {check_input!r}")
        self.check_input = bool(check_input)
        self.shape, self.scales, self.angles = shape, scales, angles
        self.finest, self.real = finest, real
        win = curvelet_windows(shape, scales, angles, finest)
        M, N = shape
        J = scales - 1
        # wedge list: (j, l, flat support, window values, centre, complex-valued coefficients)
        wedges = []
        for j in range(J):
            L = win.counts[j]
            keep = range(L // 2) if (real and L > 1) else range(L)
            gain = math.sqrt(2.0) if (real and L > 1) else 1.0
            for l in keep:
                ang, xi = win.angle[j][l], win.xi[j][l]
                centre = (0, 0) if L == 1 else (round(xi * math.cos(ang) * M),
                                                round(xi * math.sin(ang) * N))
                wedges.append((j, l, win.index[j][l], gain * win.value[j][l], centre,
                               not real or L > 1))
        wedges.append((J, 0, win.lowpass_index, win.lowpass_value, (0, 0), not real))

        self.counts = [sum(1 for w in wedges if w[0] == j) for j in range(scales)]
        self.coefficient_shapes: list[list[tuple[int, int]]] = [[] for _ in range(scales)]
        self.is_complex: list[list[bool]] = [[] for _ in range(scales)]
        self.angle = [np.asarray(win.angle[j])[:self.counts[j]] for j in range(J)]
        self.xi = [np.asarray(win.xi[j])[:self.counts[j]] for j in range(J)]
        # wedges of one scale and one cone pair (radial direction nearer axis 0, or nearer axis 1)
        # share one box: of the two boxes (elementwise largest over the wedges of the two minimal
        # boxes of each, see _min_boxes) the smaller, rounded up to a fast FFT size
        lifted, keys, options = [], [], {}
        for j, l, index, value, centre, cplx in wedges:
            k0, k1 = _lift(index, shape, centre)
            lifted.append((k0, k1))
            ang = win.angle[j][l] if j < J else 0.0
            key = (j, abs(math.cos(ang)) >= abs(math.sin(ang)))
            keys.append(key)
            old = options.get(key, ((0, 0), (0, 0)))
            new = _min_boxes(k0, k1)
            options[key] = tuple((max(o[0], n[0]), max(o[1], n[1])) for o, n in zip(old, new))
        common = {}
        for key, (a, b) in options.items():
            box = a if a[0] * a[1] <= b[0] * b[1] else b
            common[key] = tuple(min(_next_fast(n), size) for n, size in zip(box, shape))
        plans = []
        for (j, l, index, value, centre, cplx), (k0, k1), key in zip(wedges, lifted, keys):
            box = common[key]
            dst = (k0 % box[0]) * box[1] + (k1 % box[1])
            self.coefficient_shapes[j].append(box)
            self.is_complex[j].append(cplx)
            plans.append((j, l, box, index, dst, value, cplx))
        # batch the wedges that share a box shape and a kind: one gather and one FFT per group
        groups: dict = {}
        for plan in plans:
            groups.setdefault((plan[2], plan[6]), []).append(plan)
        self._groups = []
        for (box, cplx), members in groups.items():
            size = box[0] * box[1]
            src = np.concatenate([p[3] for p in members])
            dst = np.concatenate([g * size + p[4] for g, p in enumerate(members)])
            val = np.concatenate([p[5] for p in members])
            self._groups.append({"box": box, "complex": cplx,
                                 "where": [(p[0], p[1]) for p in members],
                                 "src": src, "dst": dst, "win": val})
        self._cache: dict = {}

    # ---------------------------------------------------------------------------- facts
    @property
    def J(self) -> int:
        """Number of band-pass scales, ``scales - 1``."""
        return self.scales - 1

    @property
    def n_coefficients(self) -> int:
        """Real numbers in one image's coefficients (a complex coefficient counts twice)."""
        return sum((2 if c else 1) * a * b
                   for shp, cpx in zip(self.coefficient_shapes, self.is_complex)
                   for (a, b), c in zip(shp, cpx))

    @property
    def redundancy(self) -> float:
        """Real numbers of coefficients per real number of input (complex input counts twice)."""
        return self.n_coefficients / (self.shape[0] * self.shape[1] * (1 if self.real else 2))

    def extra_repr(self) -> str:
        return (f"shape={self.shape}, scales={self.scales}, angles={self.angles}, "
                f"finest={self.finest!r}, real={self.real}, redundancy={self.redundancy:.3f}")

    def _tensors(self, device: torch.device, dtype: torch.dtype) -> list[dict]:
        """Index and window tensors on ``device`` in ``dtype`` (real), converted once."""
        key = (str(device), dtype)
        if key not in self._cache:
            self._cache[key] = [{
                "src": torch.as_tensor(g["src"], device=device),
                "dst": torch.as_tensor(g["dst"], device=device),
                "win": torch.as_tensor(g["win"], device=device, dtype=dtype),
            } for g in self._groups]
        return self._cache[key]

    # -------------------------------------------------------------------------- transform
    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Curvelet coefficients of ``x``, shape ``(..., M, N)``; see the class notes."""
        accepted = REAL_DTYPES if self.real else REAL_DTYPES + COMPLEX_DTYPES
        check_tensor(x, "x", accepted,
                     "real=True; complex images need real=False" if self.real else "")
        if x.dim() < 2 or tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"x must have shape (..., {self.shape[0]}, {self.shape[1]}), "
                             f"got {tuple(x.shape)}")
        if self.check_input:
            check_finite([("x", x)])
        real_dtype = x.real.dtype if x.is_complex() else x.dtype
        lead = x.shape[:-2]
        if x.numel() == 0:  # the FFT backends refuse empty batches
            return self._empty_coefficients(lead, real_dtype, x.device)
        spectrum = torch.fft.fft2(x, norm="ortho").reshape(*lead, -1)
        coeffs: list[list] = [[None] * n for n in self.counts]
        for g, t in zip(self._groups, self._tensors(x.device, real_dtype)):
            (L0, L1), n = g["box"], len(g["where"])
            vals = spectrum.index_select(-1, t["src"]) * t["win"]
            box = vals.new_zeros(*lead, n * L0 * L1).index_copy_(-1, t["dst"], vals)
            out = torch.fft.ifft2(box.reshape(*lead, n, L0, L1), norm="ortho")
            if not g["complex"]:
                out = out.real
            for (j, l), c in zip(g["where"], out.unbind(-3)):
                coeffs[j][l] = c
        return coeffs

    def inverse(self, coeffs: list[list[torch.Tensor]]) -> torch.Tensor:
        """Image from coefficients (the adjoint of :meth:`forward`, hence its exact inverse).

        Parameters
        ----------
        coeffs : list of lists of Tensor
            The structure :meth:`forward` returns (any matching leading dims).

        Returns
        -------
        Tensor, shape ``(..., M, N)``
            Real (float) when ``real=True``, complex otherwise.
        """
        lead, real_dtype, device = self._check_coeffs(coeffs)
        if self.check_input:
            check_finite((f"coeffs[{j}][{l}]", c) for j, scale in enumerate(coeffs)
                         for l, c in enumerate(scale))
        cdtype = torch.complex64 if real_dtype == torch.float32 else torch.complex128
        if math.prod(lead) == 0:  # the FFT backends refuse empty batches
            return torch.zeros(*lead, *self.shape, dtype=real_dtype if self.real else cdtype,
                               device=device)
        spectrum = torch.zeros(*lead, self.shape[0] * self.shape[1], dtype=cdtype, device=device)
        for g, t in zip(self._groups, self._tensors(device, real_dtype)):
            stacked = torch.stack([coeffs[j][l] for j, l in g["where"]], dim=-3)
            boxes = torch.fft.fft2(stacked, norm="ortho").reshape(*lead, -1)
            spectrum.index_add_(-1, t["src"], boxes.index_select(-1, t["dst"]) * t["win"])
        x = torch.fft.ifft2(spectrum.reshape(*lead, *self.shape), norm="ortho")
        return x.real if self.real else x

    def _empty_coefficients(self, lead: tuple, real_dtype: torch.dtype,
                            device: torch.device) -> list[list[torch.Tensor]]:
        """The coefficient structure of an empty batch ``lead`` (one dimension is 0)."""
        cdtype = torch.complex64 if real_dtype == torch.float32 else torch.complex128
        return [[torch.zeros(*lead, *shp, dtype=cdtype if cplx else real_dtype, device=device)
                 for shp, cplx in zip(shapes, kinds)]
                for shapes, kinds in zip(self.coefficient_shapes, self.is_complex)]

    def _check_coeffs(self, coeffs):
        """Validate a coefficient structure; return its leading dims, real dtype and device."""
        if not isinstance(coeffs, (list, tuple)) or len(coeffs) != self.scales:
            raise ValueError(f"coeffs must be a list of {self.scales} per-scale lists (as forward "
                             f"returns), got {type(coeffs).__name__} of length "
                             f"{len(coeffs) if hasattr(coeffs, '__len__') else '?'}")
        lead = real_dtype = device = None
        for j, (scale, shapes, kinds) in enumerate(zip(coeffs, self.coefficient_shapes,
                                                       self.is_complex)):
            if not isinstance(scale, (list, tuple)) or len(scale) != len(shapes):
                got = len(scale) if hasattr(scale, "__len__") else type(scale).__name__
                raise ValueError(f"coeffs[{j}] must be a list of {len(shapes)} wedges, got {got}")
            for l, (c, shp, cplx) in enumerate(zip(scale, shapes, kinds)):
                if not isinstance(c, torch.Tensor):
                    raise ValueError(f"coeffs[{j}][{l}] must be a torch.Tensor, "
                                     f"got {type(c).__name__}")
                check_tensor(c, f"coeffs[{j}][{l}]", REAL_DTYPES + COMPLEX_DTYPES)
                if c.dim() < 2 or tuple(c.shape[-2:]) != shp:
                    raise ValueError(f"coeffs[{j}][{l}] must have shape (..., {shp[0]}, {shp[1]}), "
                                     f"got {tuple(c.shape)}")
                if cplx and not c.is_complex():
                    raise ValueError(f"coeffs[{j}][{l}] must be complex, got {c.dtype}")
                if not cplx and c.is_complex():
                    raise ValueError(f"coeffs[{j}][{l}] must be real (real=True low-pass or "
                                     f"isotropic band), got {c.dtype}")
                rdt = c.real.dtype if c.is_complex() else c.dtype
                if lead is None:
                    lead, real_dtype, device = tuple(c.shape[:-2]), rdt, c.device
                elif tuple(c.shape[:-2]) != lead or rdt != real_dtype or c.device != device:
                    raise ValueError(f"coeffs[{j}][{l}] has leading shape {tuple(c.shape[:-2])}, "
                                     f"precision {rdt} on {c.device}; expected {lead}, "
                                     f"{real_dtype} on {device} like coeffs[0][0]")
        return lead, real_dtype, device

    # ------------------------------------------------------------------------ utilities
    def flatten(self, coeffs: list[list[torch.Tensor]]) -> torch.Tensor:
        """All coefficients as one real tensor ``(..., n_coefficients)`` (complex as re, im)."""
        lead = self._check_coeffs(coeffs)[0]
        parts = [(torch.view_as_real(c) if c.is_complex() else c).reshape(*lead, -1)
                 for scale in coeffs for c in scale]
        return torch.cat(parts, dim=-1)

    def unflatten(self, vector: torch.Tensor) -> list[list[torch.Tensor]]:
        """Inverse of :meth:`flatten`: ``(..., n_coefficients)`` back to the coefficient lists."""
        if vector.shape[-1] != self.n_coefficients:
            raise ValueError(f"vector must have last dimension {self.n_coefficients}, "
                             f"got {tuple(vector.shape)}")
        lead, out, start = vector.shape[:-1], [], 0
        for shapes, kinds in zip(self.coefficient_shapes, self.is_complex):
            scale = []
            for (a, b), cplx in zip(shapes, kinds):
                size = a * b * (2 if cplx else 1)
                chunk = vector[..., start:start + size]
                start += size
                scale.append(torch.view_as_complex(chunk.reshape(*lead, a, b, 2).contiguous())
                             if cplx else chunk.reshape(*lead, a, b))
            out.append(scale)
        return out
