"""Gabor / log-Gabor / DWT banks: construction time, and the torch DWT against PyWavelets.

Run: ``.venv/bin/python benchmarks/filters_gabor_dwt.py [--repeat 5] [--device cpu] [--threads 1]``

1. Bank construction on square grids (best of ``repeat``): ``gabor_2d`` (5 frequencies x 8
   angles) next to building the same 40 filters from ``skimage.filters.gabor_kernel`` (spatial,
   ``n_stds=6``, wrapped on the grid, one FFT each), checked equal to ours to 1e-3 relative (its
   box is ``n_stds * sigma * max(|cos|, |sin|)`` wide: it truncates at 4.2 sigma on diagonals),
   ``log_gabor_2d`` (Kovesi's defaults) and ``dwt_filter_bank`` (sym8, 5 levels).
2. ``DWT2d`` / ``IDWT2d`` (float64, a batch of images) against ``pywt.wavedec2`` /
   ``pywt.waverec2`` with ``mode='periodization'`` on the same data; outputs checked equal.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pywt
import torch
from skimage.filters import gabor_kernel

# benchmarks/filters.py would shadow the filters package when this script runs from benchmarks/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
from scatter.filters import DWT2d, IDWT2d, dwt_filter_bank, gabor_2d, log_gabor_2d  # noqa: E402


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def skimage_bank(n, freqs, angles):
    """The same Gabors from skimage's spatial kernels, wrapped on the grid and FFT'd."""
    out = np.empty((len(freqs) * len(angles), n, n))
    k = 0
    for f in freqs:
        for a in angles:
            g = gabor_kernel(f, a, n_stds=6)
            plane = np.zeros((n, n), complex)
            plane[:g.shape[0], :g.shape[1]] = g
            plane = np.roll(plane, (-(g.shape[0] // 2), -(g.shape[1] // 2)), axis=(0, 1))
            out[k] = np.fft.fft2(plane).real
            k += 1
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (PyWavelets is single-threaded)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    freqs = [0.4, 0.2, 0.1, 0.05, 0.03]  # the widest skimage kernel (227 px) fits 256
    angles = np.arange(8) * math.pi / 8

    print("bank construction, seconds (best of %d)" % args.repeat)
    print("|    n | gabor_2d | skimage kernels+FFT | ratio | max rel diff | log_gabor_2d | "
          "dwt_filter_bank sym8 J=5 |")
    print("|-----:|--------------:|--------------------:|------:|-------------:|-------------:|"
          "-------------------------:|")
    for n in (256, 512):
        t_ours, ours = best(lambda: gabor_2d((n, n), freqs, L=8), args.repeat)
        t_sk, ref = best(lambda: skimage_bank(n, freqs, angles), max(1, args.repeat // 2))
        diff = np.abs(ours.psi - ref).max() / np.abs(ref).max()
        assert diff < 1e-3, diff
        t_lg, _ = best(lambda: log_gabor_2d((n, n)), args.repeat)
        t_dwt, _ = best(lambda: dwt_filter_bank("sym8", (n, n), 5), args.repeat)
        print(f"| {n:4d} | {t_ours:13.4f} | {t_sk:19.4f} | {t_sk / t_ours:5.1f} | {diff:12.1e} | "
              f"{t_lg:12.4f} | {t_dwt:24.4f} |")

    print()
    print(f"DWT2d/IDWT2d (torch, {args.device}, float64) vs pywt.wavedec2/waverec2, periodization; "
          f"seconds, best of {args.repeat}; torch threads = {torch.get_num_threads()}")
    print("| wavelet | batch x size | level | pywt dec | torch dec | dec ratio | pywt rec | "
          "torch rec | rec ratio | max abs diff |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
        for wavelet, batch, n, level in [("haar", 16, 256, 4), ("db4", 16, 256, 4),
                                         ("sym8", 16, 256, 4), ("bior4.4", 64, 128, 3)]:
            x = rng.standard_normal((batch, n, n))
            xt = torch.from_numpy(x).to(args.device)
            dwt, idwt = DWT2d(wavelet, level).to(args.device), IDWT2d(wavelet).to(args.device)

            def sync(out):
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                return out

            t_pd, ref = best(lambda: pywt.wavedec2(x, wavelet, mode="periodization", level=level),
                             args.repeat)
            t_td, out = best(lambda: sync(dwt(xt)), args.repeat)
            t_pr, rec_ref = best(lambda: pywt.waverec2(ref, wavelet, mode="periodization"),
                                 args.repeat)
            t_tr, rec = best(lambda: sync(idwt(out)), args.repeat)
            diff = max(np.abs(out[0].cpu().numpy() - ref[0]).max(),
                       max(np.abs(d.cpu().numpy() - np.stack(r, axis=-3)).max()
                           for d, r in zip(out[1:], ref[1:])),
                       np.abs(rec.cpu().numpy() - rec_ref).max())
            assert diff <= 1e-12, diff
            print(f"| {wavelet} | {batch} x {n}^2 | {level} | {t_pd:.4f} | {t_td:.4f} | "
                  f"{t_pd / t_td:.2f} | {t_pr:.4f} | {t_tr:.4f} | {t_pr / t_tr:.2f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
