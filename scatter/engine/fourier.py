"""Fourier-domain building blocks of the CPU inference engines (:mod:`scatter.engine`).

Work buffers reused between calls, filtering fused with subsampling over alias blocks, half
spectra of real maps, in-place inverse FFTs and a fast modulus. They compute what the plain
operations of :mod:`scatter.core.ops` compute, with fewer passes over memory.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import torch

from .. import _mkl_fft


class Workspace:
    """A flat buffer per dtype, reused by the forward passes of a network without autograd.

    Large fresh tensors page-fault on every allocation on CPU (about 0.7 ms per MB here, more
    than a product over them): maps that are dead once their FFT is taken can live in one
    buffer that serves every group and is kept for the next call (the networks'
    ``release_workspace`` frees it). Networks pass ``None`` instead where autograd needs fresh
    tensors.
    """

    def __init__(self) -> None:
        self._buffers: dict = {}

    def take(self, shape, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """A contiguous tensor of ``shape`` and ``dtype`` viewing this workspace's buffer."""
        size = math.prod(shape)
        buf = self._buffers.get(dtype)
        if buf is None or buf.numel() < size or buf.device != torch.device(device):
            buf = self._buffers[dtype] = torch.empty(size, dtype=dtype, device=device)
        return buf[:size].view(shape)


class ThreadWorkspaces:
    """Named :class:`Workspace` slots for each calling thread (threads never share a buffer: an
    engine's chunks run side by side on worker threads)."""

    def __init__(self, names) -> None:
        self._names = tuple(names)
        self._local = threading.local()

    def get(self) -> dict[str, Workspace]:
        """This thread's slots, made at its first call."""
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {name: Workspace() for name in self._names}
        return slots

    def release(self) -> None:
        """Forget every thread's buffers (each is freed once its thread no longer holds a view)."""
        self._local = threading.local()


def take(workspace: Workspace | None, shape, dtype: torch.dtype, device: torch.device):
    """``workspace.take(...)``, or ``None`` (allocate) without a workspace."""
    return None if workspace is None else workspace.take(tuple(shape), dtype, device)


# Alias blocks where a filter stays below this fraction of its peak are skipped: float64 filters
# designed by FFT carry rounding noise of about 1e-16 of their peak everywhere, so this drops
# nothing that the design itself resolves.
BLOCK_FLOOR = 1e-13


def significant_blocks(filters: np.ndarray, factor: int) -> list[tuple[int, int, tuple | None]]:
    """Alias blocks of a ``factor x factor`` split where ``filters`` are not negligible, and which.

    Parameters
    ----------
    filters : ndarray, shape (M, N) or (K, M, N), M and N divisible by ``factor``

    Returns
    -------
    list of (a, b, runs)
        Block ``(a, b)`` (see :func:`filter_subsample`) and, for a stack of ``K`` filters, the
        runs ``((k0, k1), ...)`` of consecutive filters that are significant in it (``None`` for a
        single filter). An oriented wavelet reaches only some blocks: the eight Morlet wavelets of
        one scale need 80 of their 128 (filter, block) products at factors 4 and 8. Blocks that
        every filter needs come first, so that the first product can initialise the output.
    """
    m, n = filters.shape[-2:]
    stack = filters.reshape(-1, factor, m // factor, factor, n // factor)
    magnitude = np.abs(stack).max(axis=(2, 4))                      # (K, factor, factor)
    keep = magnitude > BLOCK_FLOOR * magnitude.max()
    out = []
    for a, b in zip(*np.nonzero(keep.any(axis=0))):
        runs = None
        if filters.ndim == 3:
            flags = np.concatenate([[False], keep[:, a, b], [False]])
            edges = np.flatnonzero(flags[1:] != flags[:-1])
            runs = tuple((int(lo), int(hi)) for lo, hi in zip(edges[::2], edges[1::2]))
        out.append((int(a), int(b), runs))
    return _whole_blocks_first(out, filters.shape[0] if filters.ndim == 3 else 1)


def _whole_blocks_first(blocks: list, K: int) -> list:
    """``blocks`` with those that every one of the ``K`` filters needs first (stable)."""
    return sorted(blocks, key=lambda blk: blk[2] is not None and blk[2] != ((0, K),))


def restrict_blocks(blocks: list, lo: int, hi: int) -> list:
    """:func:`significant_blocks` of the filters ``lo .. hi - 1`` of a stack, from the whole stack's."""
    out = []
    for a, b, runs in blocks:
        if runs is not None:
            runs = tuple((max(r0, lo) - lo, min(r1, hi) - lo) for r0, r1 in runs if r0 < hi and r1 > lo)
            if not runs:
                continue
        out.append((a, b, runs))
    return _whole_blocks_first(out, hi - lo)


def _broadcast_shape(a, b) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes (``torch.broadcast_shapes`` imports sympy on first use:
    30+ MB of resident memory that a forward pass should not cost)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for p, q in zip(a, b):
        if p != q and 1 not in (p, q):
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(q if p == 1 else p)
    return tuple(out)


def block_products(filt: torch.Tensor, factor: int, blocks: list) -> list[tuple]:
    """The products :func:`filter_subsample` runs for ``blocks``, with the filters' block views.

    Parameters
    ----------
    filt, factor, blocks
        As in :func:`filter_subsample` (``factor > 1``).

    Returns
    -------
    list of (block, rect, k, f, whole)
        ``block = (a, b)``; ``rect`` the index of its rectangle (plus the (re, im) axis of a
        real-pair filter); ``k`` the slice of filters, ``None`` for all of them; ``f`` the view
        ``filt[k][rect]``; ``whole``: the product covers every filter. Networks keep this list per
        filter stack: building the views is Python work that worker threads would otherwise
        repeat, holding the GIL, for every chunk.
    """
    pairs = not filt.is_complex()
    m, n = filt.shape[-3:-1] if pairs else filt.shape[-2:]
    mk, nk = m // factor, n // factor
    tail = (slice(None),) if pairs else ()
    stacked = filt.dim() == (4 if pairs else 3)
    products = []
    for a, b, runs in blocks:
        rect = (slice(a * mk, (a + 1) * mk), slice(b * nk, (b + 1) * nk)) + tail
        for r0, r1 in runs if runs is not None and stacked else [(None, None)]:
            whole = r0 is None or (r0 == 0 and r1 == filt.shape[0])
            k = None if whole else slice(r0, r1)
            f = filt[(...,) + rect] if k is None else filt[(k,) + rect]
            products.append(((a, b), rect, k, f, whole))
    return products


def filter_subsample(u_hat: torch.Tensor, filt: torch.Tensor, factor: int,
                     blocks: list, workspace: Workspace | None = None,
                     products: list | None = None) -> torch.Tensor:
    """Filter in Fourier and subsample in space by ``factor``, without the full-size product.

    Subsampling ``y`` by ``factor`` in space replaces its spectrum by the mean of its
    ``factor**2`` aliases (blocks of the spectrum); here the sum over alias blocks of the products
    of the blocks (the ``1 / factor**2`` of the mean must already be folded into ``filt``); only
    ``blocks`` (see :func:`significant_blocks`), and in each only the filters significant there,
    are visited. Block ``(a, b)`` is the rectangle of rows ``a M / factor .. (a + 1) M / factor``
    and columns ``b N / factor .. (b + 1) N / factor``.

    Parameters
    ----------
    u_hat : Tensor, complex, shape (..., M, N)
    filt : Tensor, shape (K, M, N) or (M, N), broadcastable with ``u_hat``, complex of ``u_hat``'s
        dtype; or real, shape (K, M, N, 2) or (M, N, 2), a real Fourier filter duplicated over a
        trailing axis: the products then run on ``view_as_real(u_hat)`` as real products (on CPU,
        torch's broadcast complex products are several times slower than real ones).
    factor : int
    blocks : list of (a, b, runs)
        From :func:`significant_blocks` (``runs`` index the ``K`` filters; ``None`` for one).
        Not read when ``products`` is given.
    workspace : Workspace, optional
        Where to write the result (no autograd); by default a fresh tensor.
    products : list, optional
        ``block_products(filt, factor, blocks)``, when the caller keeps it.

    Returns
    -------
    Tensor, complex, shape (broadcast leading dims, M // factor, N // factor)
    """
    pairs = not filt.is_complex()
    u = torch.view_as_real(u_hat.resolve_conj()) if pairs else u_hat
    m, n = u_hat.shape[-2:]
    mk, nk = m // factor, n // factor
    shape = _broadcast_shape(u.shape, filt.shape)
    shape = shape[:-3] + (mk, nk, 2) if pairs else shape[:-2] + (mk, nk)
    out = take(workspace, shape, u.dtype, u.device)
    if factor == 1:
        out = torch.mul(u, filt, out=out) if out is not None else u * filt
        return torch.view_as_complex(out) if pairs else out
    if products is None:
        products = block_products(filt, factor, blocks)
    axis = len(shape) - (4 if pairs else 3)        # the filters' axis K in the output
    # u's blocks are shared by the filters unless u itself runs along the filters' axis
    u_along_k = (filt.dim() == (4 if pairs else 3) and u.dim() > (3 if pairs else 2)
                 and u.shape[axis - len(shape)] != 1)
    # the first product initialises the output when it covers every filter, else zeros do
    initialise = bool(products) and products[0][4]
    if not initialise:
        out = out.zero_() if out is not None else u.new_zeros(shape)
    views: dict = {}
    for i, (block, rect, k, f, _) in enumerate(products):
        if u_along_k:
            v = u[(..., k if k is not None else slice(None)) + rect]
        else:
            v = views.get(block)
            if v is None:
                v = views[block] = u[(...,) + rect]
        if i == 0 and initialise:
            out = torch.mul(v, f, out=out) if out is not None else v * f
        else:
            (out if k is None else out[(slice(None),) * axis + (k,)]).addcmul_(v, f)
    return torch.view_as_complex(out) if pairs else out


def lowpass_half_spectrum(r_hat: torch.Tensor, phi_half: torch.Tensor, factor: int, width: int) -> torch.Tensor:
    """``real(ifft2(subsample(U * phi, factor)))`` for a real ``U`` and a real, even ``phi``.

    Works on half spectra: ``r_hat = rfft2(U)`` (or the first ``width // 2 + 1`` columns of the
    full spectrum). The product of a Hermitian spectrum with an even filter is Hermitian, so the
    aliases that subsampling folds from negative column frequencies are conjugates of stored
    ones, found by a row flip and a column reversal; the result goes through ``irfft2``.

    Parameters
    ----------
    r_hat : Tensor, complex, shape (..., M, width // 2 + 1)
    phi_half : Tensor, complex, shape (M, width // 2 + 1)
        The filter's half spectrum with the ``1 / factor**2`` of the subsampling mean folded in.
    factor : int, even (a power of two >= 2), dividing ``M`` and ``width``
    width : int
        ``N``, the full width of the map.

    Returns
    -------
    Tensor, real, shape (..., M // factor, width // factor)
    """
    m = r_hat.shape[-2]
    mk, nk = m // factor, width // factor
    hk = nk // 2 + 1
    p = (r_hat * phi_half).unflatten(-2, (factor, mk)).sum(-3)      # rows folded: (..., mk, half)
    out = p[..., :hk].clone()
    for t in range(1, factor // 2):                                  # non-negative column aliases
        out += p[..., t * nk:t * nk + hk]
    mirror = None
    for u in range(1, factor // 2 + 1):                              # aliases from negative columns
        block = p[..., u * nk - hk + 1:u * nk + 1]
        mirror = block if mirror is None else mirror + block
    rows = (-torch.arange(mk, device=p.device)) % mk
    out += mirror.flip(-1).index_select(-2, rows).conj()
    return torch.fft.irfft2(out, s=(mk, nk))


_MIRROR_INDICES: dict = {}


def _mirror_index(m: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat indices into a half spectrum ``(m, width // 2 + 1)`` of the columns it lacks.

    Column ``c`` of the missing part (``c = width // 2 + 1 .. width - 1``) at row ``r`` is the
    conjugate of the stored bin ``((-r) mod m, width - c)``. Kept per shape and device in a plain
    dict (``torch.compile`` traces through ``functools.lru_cache`` wrappers, with a warning).
    """
    key = (m, width, device)
    index = _MIRROR_INDICES.get(key)
    if index is None:
        half = width // 2 + 1
        rows = (-np.arange(m)) % m
        cols = width - np.arange(half, width)
        if len(_MIRROR_INDICES) >= 64:
            _MIRROR_INDICES.clear()
        index = _MIRROR_INDICES[key] = torch.from_numpy((rows[:, None] * half + cols[None, :]).ravel()).to(device)
    return index


def full_spectrum(r_hat: torch.Tensor, width: int, workspace: Workspace | None = None) -> torch.Tensor:
    """The full DFT ``fft2(U)`` of a real ``U`` from its half spectrum ``rfft2(U)``.

    Cheaper than ``fft2`` of a real tensor, which torch computes by converting to complex first.

    Parameters
    ----------
    r_hat : Tensor, complex, shape (..., M, width // 2 + 1)
    width : int
    workspace : Workspace, optional
        Where to write the result (no autograd); by default a fresh tensor.

    Returns
    -------
    Tensor, complex, shape (..., M, width)
    """
    m = r_hat.shape[-2]
    index = _mirror_index(m, width, r_hat.device)
    mirror = r_hat.flatten(-2).index_select(-1, index).unflatten(-1, (m, width - r_hat.shape[-1])).conj()
    out = take(workspace, (*r_hat.shape[:-1], width), r_hat.dtype, r_hat.device)
    if out is None:
        return torch.cat([r_hat, mirror], dim=-1)
    out[..., :r_hat.shape[-1]].copy_(r_hat)
    out[..., r_hat.shape[-1]:].copy_(mirror)
    return out


def fft2_of_real(u: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
    """The full DFT ``fft2(u)`` of a real ``u``, as a complex tensor.

    With a workspace (CPU inference) and torch built on MKL: ``u`` copied into the workspace as
    complex and transformed there in place by MKL (:mod:`scatter._mkl_fft`), 1.4-4x faster on
    the networks' shapes than ``rfft2`` followed by :func:`full_spectrum`, and without the half
    spectrum in between. Otherwise ``full_spectrum(rfft2(u))``.

    Parameters
    ----------
    u : Tensor, real, shape (..., M, N)
    workspace : Workspace, optional
        Where to write the result (no autograd); by default a fresh tensor.

    Returns
    -------
    Tensor, complex, shape (..., M, N)
    """
    if (workspace is not None and u.device.type == "cpu" and _mkl_fft.available()
            and not (torch.is_grad_enabled() and u.requires_grad)):
        out = take(workspace, u.shape, u.dtype.to_complex(), u.device).copy_(u)
        if _mkl_fft.fft_in_place(out, 2):
            return out
    return full_spectrum(torch.fft.rfft2(u), u.shape[-1], workspace)


def ifft_in_place(z: torch.Tensor, ndim: int, norm: str = "backward") -> torch.Tensor:
    """Inverse FFT over the last ``ndim`` axes of a complex tensor the caller no longer needs.

    On the CPU without autograd ``z`` is transformed in place: torch's FFTs always return a
    fresh tensor (their ``out=`` variants go through a temporary), whose page faults cost as much
    as the transform for the networks' shapes and which holds a second copy of the intermediate.
    With ``norm='forward'`` (no scaling) and torch built on MKL (x86-64), MKL's own FFT does it
    (:mod:`scatter._mkl_fft`, 2-3x faster than pocketfft on Intel CPUs); otherwise SciPy's
    pocketfft (``overwrite_x``). Elsewhere ``torch.fft.ifftn``.

    Parameters
    ----------
    z : Tensor, complex, shape (..., *grid) with ``len(grid) == ndim``
        Overwritten on the CPU.
    ndim : int
    norm : {'backward', 'forward', 'ortho'}
        As in :func:`torch.fft.ifftn`.

    Returns
    -------
    Tensor, complex, ``z``'s shape (on the CPU, usually ``z``'s memory)
    """
    dims = tuple(range(-ndim, 0))
    if z.device.type == "cpu" and z.is_contiguous() and not (torch.is_grad_enabled() and z.requires_grad):
        if norm == "forward" and _mkl_fft.ifft_in_place(z, ndim):
            return z
        import scipy.fft

        y = scipy.fft.ifftn(z.resolve_conj().numpy(), axes=dims, norm=norm, overwrite_x=True,
                            workers=torch.get_num_threads())
        return torch.from_numpy(y)
    return torch.fft.ifftn(z, dim=dims, norm=norm)


def modulus(z: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``|z|`` of a complex tensor, into ``out`` (a real tensor of ``z``'s shape) if given.

    Without autograd: on the CPU through NumPy's complex ``abs`` (zero-copy; 14x faster than
    ``torch.abs``, whose ``hypot`` is slow here), elsewhere ``sqrt(re^2 + im^2)`` (overflows only
    past ``|z| > 1e19`` in float32). Under autograd, ``torch.abs``, whose gradient at ``z = 0`` is 0
    rather than NaN (``out`` is then ignored).
    """
    if torch.is_grad_enabled() and z.requires_grad:
        return z.abs()
    if z.device.type == "cpu" and not z.is_conj():
        if out is None:
            return torch.from_numpy(np.abs(z.numpy()))
        np.abs(z.numpy(), out=out.numpy())
        return out
    re, im = z.real, z.imag
    if out is None:
        return torch.addcmul(re * re, im, im).sqrt_()
    return torch.mul(re, re, out=out).addcmul_(im, im).sqrt_()
