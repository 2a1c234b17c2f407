"""Natural-image patches for sparse coding: images from scikit-image or a folder, the
Olshausen-Field whitening filter, and random patch sampling.

Olshausen & Field (1996, Nature 381:607; 1997, Vision Res. 37:3311) whiten each image with the
zero-phase filter ``R(f) = f exp(-(f/f0)^4)``, ``f0 = 0.4 N`` cycles/picture for an ``N x N``
image (so ``f0 = 0.4`` cycle/pixel), scale every image to the same variance and draw random
patches.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .._validation import check_float, check_int

__all__ = ["DEFAULT_IMAGES", "natural_images", "load_images", "whiten_images",
           "extract_patches", "natural_patches"]

#: scikit-image images used by default (all bundled with the package, no download).
DEFAULT_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "brick", "grass",
                  "gravel", "hubble_deep_field", "retina")

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".pgm", ".ppm")


def _to_grey(image: np.ndarray, name: str) -> np.ndarray:
    """Grey float64 image in [0, 1] from a (h, w), (h, w, 3) or (h, w, 4) array."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        from skimage.color import rgb2gray
        image = rgb2gray(image[..., :3])
    elif image.ndim != 2:
        raise ValueError(f"{name}: expected a grey (h, w) or colour (h, w, 3|4) image, "
                         f"got shape {image.shape}")
    if image.dtype == np.uint8:
        image = image / 255.0
    elif image.dtype == np.uint16:
        image = image / 65535.0
    return np.asarray(image, dtype=np.float64)


def natural_images(names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Grey natural images bundled with scikit-image.

    Parameters
    ----------
    names : sequence of str, optional
        Names of ``skimage.data`` functions; default :data:`DEFAULT_IMAGES`.

    Returns
    -------
    list of ndarray, float64, shape (h_i, w_i)
        Grey levels in ``[0, 1]``.

    Examples
    --------
    >>> from scatter import models
    >>> (image,) = models.natural_images(["camera"])
    >>> image.shape, image.dtype, float(image.min()) >= 0, float(image.max()) <= 1
    ((512, 512), dtype('float64'), True, True)
    """
    import skimage.data
    names = DEFAULT_IMAGES if names is None else tuple(names)
    if len(names) == 0:
        raise ValueError("names must name at least one skimage.data image")
    images = []
    for name in names:
        loader = getattr(skimage.data, str(name), None)
        if loader is None or not callable(loader):
            raise ValueError(f"names: {name!r} is not a skimage.data image "
                             f"(e.g. {', '.join(DEFAULT_IMAGES)})")
        images.append(_to_grey(loader(), str(name)))
    return images


def load_images(folder: str | os.PathLike, recursive: bool = False) -> list[np.ndarray]:
    """Read every image file of a folder as a grey float64 image in ``[0, 1]``.

    Parameters
    ----------
    folder : str or path-like
        Folder holding images (``.png``, ``.jpg``, ``.tif``, ``.bmp``, ``.gif``, ``.pgm``, ...).
    recursive : bool
        Also read the images of sub-folders.

    Returns
    -------
    list of ndarray, float64, shape (h_i, w_i)
        In sorted file-name order; images keep their own sizes.

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a directory.
    ValueError
        If it holds no image, or a file cannot be decoded (the message names the file).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from scatter import models
    >>> from PIL import Image
    >>> tmp = tempfile.TemporaryDirectory()
    >>> Image.fromarray(np.full((8, 12), 255, np.uint8)).save(f"{tmp.name}/white.png")
    >>> images = models.load_images(tmp.name)
    >>> len(images), images[0].shape, images[0].dtype, float(images[0].max())
    (1, (8, 12), dtype('float64'), 1.0)
    >>> tmp.cleanup()
    """
    from skimage.io import imread
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} is not a directory")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern)
                   if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"folder {str(folder)!r} holds no image file ({', '.join(_IMAGE_SUFFIXES)})")
    images = []
    for path in files:
        try:
            image = imread(path)
        except Exception as err:  # decoders raise many types; name the file
            raise ValueError(f"cannot read image {str(path)!r}: {err}") from err
        images.append(_to_grey(image, str(path)))
    return images


def _check_images(images) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim == 2:
        images = [images]
    try:
        images = [np.asarray(im, dtype=np.float64) for im in images]
    except (TypeError, ValueError) as err:
        raise TypeError(f"images must be a (h, w) array or a sequence of them: {err}") from None
    if not images:
        raise ValueError("images must hold at least one image")
    for i, im in enumerate(images):
        if im.ndim != 2:
            raise ValueError(f"images[{i}] must be a grey (h, w) image, got shape {im.shape}")
        if not np.all(np.isfinite(im)):
            raise ValueError(f"images[{i}] contains NaN or inf pixels")
    return images


def whiten_images(images, f0: float = 0.4, variance: float = 1.0) -> list[np.ndarray]:
    """Olshausen-Field zero-phase whitening and variance normalisation of each image.

    Each image is multiplied in the Fourier domain by ``R(f) = f exp(-(f/f0)^4)`` with ``f`` the
    radial frequency in cycles/pixel (``f0 = 0.4`` cycle/pixel is the paper's ``0.4 N``
    cycles/picture), after mean removal; the ``1/f`` amplitude spectrum of natural images
    becomes roughly flat and the highest, aliased frequencies are attenuated. To avoid the
    wrap-around edge of the FFT, the image is mirrored to twice its size first and cropped back.

    Parameters
    ----------
    images : ndarray (h, w) or sequence of them
        Grey images (float, finite).
    f0 : float
        Cut-off of the low-pass part, cycles/pixel (> 0).
    variance : float
        Pixel variance of every whitened image (> 0).

    Returns
    -------
    list of ndarray, float64, shape (h_i, w_i)

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> image = np.random.default_rng(0).random((32, 48))
    >>> (white,) = models.whiten_images(image)
    >>> white.shape, white.dtype, round(float(white.var()), 6)
    ((32, 48), dtype('float64'), 1.0)
    """
    images = _check_images(images)
    f0 = check_float("f0", f0, positive=True)
    variance = check_float("variance", variance, positive=True)
    out = []
    for im in images:
        h, w = im.shape
        big = np.pad(im - im.mean(), ((0, h), (0, w)), mode="symmetric")
        fy = np.fft.fftfreq(2 * h)[:, None]
        fx = np.fft.rfftfreq(2 * w)[None, :]
        f = np.hypot(fx, fy)
        white = np.fft.irfft2(np.fft.rfft2(big) * (f * np.exp(-(f / f0) ** 4)), s=big.shape)[:h, :w]
        std = white.std()
        if std == 0:
            raise ValueError("images: a constant image cannot be whitened (zero variance)")
        out.append(white * np.sqrt(variance) / std)
    return out


def extract_patches(images, patch_size: int | tuple[int, int], n_patches: int,
                    random_state: int | np.random.Generator | None = None) -> np.ndarray:
    """Random square (or rectangular) patches, an equal share from every image.

    Parameters
    ----------
    images : ndarray (h, w) or sequence of them
    patch_size : int or (int, int)
        Patch side(s) in pixels; must fit in every image.
    n_patches : int
        Number of patches (>= 1).
    random_state : int, Generator or None

    Returns
    -------
    ndarray, float32, shape (n_patches, ph * pw)
        Row-major flattened patches, shuffled.

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> images = [np.random.default_rng(0).random((32, 32)), np.ones((20, 40))]
    >>> p = models.extract_patches(images, patch_size=8, n_patches=10, random_state=0)
    >>> p.shape, p.dtype                         # flattened 8 x 8 patches, 5 from each image
    ((10, 64), dtype('float32'))
    """
    images = _check_images(images)
    if isinstance(patch_size, (tuple, list)):
        if len(patch_size) != 2:
            raise ValueError(f"patch_size must be an int or a pair of ints, got {patch_size!r}")
        ph, pw = (check_int(f"patch_size[{i}]", s, minimum=1) for i, s in enumerate(patch_size))
    else:
        ph = pw = check_int("patch_size", patch_size, minimum=1)
    n_patches = check_int("n_patches", n_patches, minimum=1)
    for i, im in enumerate(images):
        if im.shape[0] < ph or im.shape[1] < pw:
            raise ValueError(f"patch_size ({ph}, {pw}) is larger than images[{i}] of shape "
                             f"{im.shape}")
    rng = np.random.default_rng(random_state)
    counts = np.full(len(images), n_patches // len(images))
    counts[: n_patches % len(images)] += 1
    out = np.empty((n_patches, ph * pw), dtype=np.float32)
    start = 0
    for im, n in zip(images, counts):
        if n == 0:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(im, (ph, pw))
        rows = rng.integers(0, windows.shape[0], n)
        cols = rng.integers(0, windows.shape[1], n)
        out[start:start + n] = windows[rows, cols].reshape(n, ph * pw)
        start += n
    return out[rng.permutation(n_patches)]


def natural_patches(n_patches: int, patch_size: int = 16, images=None, f0: float = 0.4,
                    random_state: int | np.random.Generator | None = 0) -> np.ndarray:
    """Whitened, variance-normalised natural-image patches (the Olshausen-Field protocol).

    Parameters
    ----------
    n_patches : int
    patch_size : int
    images : sequence of (h, w) arrays, optional
        Grey images; default :func:`natural_images` ``()``.
    f0 : float
        Whitening cut-off (cycles/pixel), see :func:`whiten_images`.
    random_state : int, Generator or None

    Returns
    -------
    ndarray, float32, shape (n_patches, patch_size**2)

    Examples
    --------
    >>> import numpy as np
    >>> from scatter import models
    >>> images = [np.random.default_rng(0).random((64, 64))]  # default: scikit-image's photographs
    >>> x = models.natural_patches(100, patch_size=8, images=images)
    >>> x.shape, x.dtype
    ((100, 64), dtype('float32'))
    """
    images = natural_images() if images is None else images
    return extract_patches(whiten_images(images, f0=f0), patch_size, n_patches, random_state)
