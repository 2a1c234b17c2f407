"""Gabor / log-Gabor / DWT banks: construction time, and the torch DWT against PyWavelets.

Run: ``.venv/bin/python benchmarks/filters_gabor_dwt.py [--repeat 5] [--device cpu] [--threads 2]
[--only banks|dwt] [--clock wall|cpu] [--inputs 16x256 64x128 volume] [--wavelets haar db4 sym8]
[--modes periodization symmetric] [--dtypes float32 float64]``

1. Bank construction on square grids (best of ``repeat``): ``gabor_2d`` (5 frequencies x 8
   angles) next to building the same 40 filters from ``skimage.filters.gabor_kernel`` (spatial,
   ``n_stds=6``, wrapped on the grid, one FFT each), checked equal to ours to 1e-3 relative (its
   box is ``n_stds * sigma * max(|cos|, |sin|)`` wide: it truncates at 4.2 sigma on diagonals),
   ``log_gabor_2d`` (Kovesi's defaults) and ``dwt_filter_bank`` (sym8, 5 levels).
2. ``DWT2d`` / ``IDWT2d`` (16 x 256^2 and 64 x 128^2, 4 levels) and ``DWTnd`` / ``IDWTnd`` (a
   128^3 volume, 3 levels) against ``pywt.wavedec2``/``waverec2``/``wavedecn``/``waverecn`` and
   pytorch_wavelets' ``DWTForward``/``DWTInverse`` (2D only: it has no 3D DWT), haar, db4,
   sym8, modes ``'periodization'`` and ``'symmetric'``, float32 and float64, on the same data;
   outputs checked equal (ours to 1e-12 of the largest coefficient in float64, 2e-5 in
   float32; pytorch_wavelets to 1e-5: its filters are float32 constants).
"""
from __future__ import annotations

import argparse
import importlib.resources
import importlib.util
import math
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pywt
import torch
from skimage.filters import gabor_kernel

# benchmarks/filters.py would shadow the filters package when this script runs from benchmarks/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
from scatter.filters import (DWT2d, DWTnd, IDWT2d, IDWTnd, dwt_filter_bank, gabor_2d,  # noqa: E402
                             log_gabor_2d)


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
    parser.add_argument("--threads", type=int, default=2,
                        help="torch intra-op threads (PyWavelets is single-threaded)")
    parser.add_argument("--only", choices=("banks", "dwt"), default=None,
                        help="run one of the two parts")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="DWT part: wall time, or this process's CPU time (with --threads 1, "
                             "a measure of work that a shared, loaded machine disturbs less)")
    parser.add_argument("--inputs", nargs="+", choices=("16x256", "64x128", "volume"),
                        default=None, help="DWT part: only these inputs (default: all three)")
    parser.add_argument("--wavelets", nargs="+", default=["haar", "db4", "sym8"],
                        help="DWT part: wavelets (default: haar db4 sym8)")
    parser.add_argument("--modes", nargs="+", default=["periodization", "symmetric"],
                        help="DWT part: modes (default: periodization symmetric)")
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"),
                        default=["float32", "float64"], help="DWT part: dtypes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.only != "dwt":
        banks(args)
    if args.only != "banks":
        dwt_vs_peers(args)


def banks(args):
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


def import_pytorch_wavelets():
    """pytorch_wavelets' DWTForward/DWTInverse, or None where it is not installed.

    Its package imports ``pkg_resources`` (for its DTCWT tables), which setuptools >= 81 no
    longer ships: a stand-in with the one function it uses is installed for this process.
    """
    if importlib.util.find_spec("pytorch_wavelets") is None:
        return None
    if importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")
        shim.resource_stream = lambda pkg, name: (
            importlib.resources.files(pkg).joinpath(name).open("rb"))
        sys.modules["pkg_resources"] = shim
    import pytorch_wavelets
    from pytorch_wavelets import DWTForward, DWTInverse

    return DWTForward, DWTInverse, getattr(pytorch_wavelets, "__version__", "")


def _flat(coeffs):
    out = []
    for c in coeffs:
        if isinstance(c, dict):
            out += [c[k] for k in sorted(c)]
        elif isinstance(c, (tuple, list)):
            out += _flat(c)
        else:
            out.append(c)
    return [np.asarray(o.detach().cpu().numpy() if isinstance(o, torch.Tensor) else o,
                       np.float64) for o in out]


def _rel(ours, ref):
    a, b = _flat(ours), _flat(ref)
    assert [x.shape for x in a] == [x.shape for x in b], ([x.shape for x in a],
                                                           [x.shape for x in b])
    return max(np.abs(x - y).max() for x, y in zip(a, b)) / max(np.abs(y).max() for y in b)


def dwt_vs_peers(args):
    """Ours vs PyWavelets vs pytorch_wavelets, forward and inverse, on the same inputs."""
    ptw = import_pytorch_wavelets()
    # pywt warns when a level exceeds dwt_max_level (sym8 at 4 levels on 128): expected here
    warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    print(f"DWT forward/inverse, ours (torch {args.device}, {torch.get_num_threads()} threads) vs "
          f"PyWavelets {pywt.__version__} (1 thread) vs pytorch_wavelets "
          f"{'(absent)' if ptw is None else ptw[2]}; seconds, best of {args.repeat} (the three "
          f"alternated; {args.clock} clock); ratio = peer time / ours (> 1: ours faster)")
    print("| input | wavelet | mode | dtype | pywt dec | ours dec | ptw dec | pywt/ours | "
          "ptw/ours | pywt rec | ours rec | ptw rec | pywt/ours | ptw/ours | max rel diff "
          "(ours, ptw) |")
    print("|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    rng = np.random.default_rng(0)
    inputs = [("16x256", "16 x 256^2", (16, 256, 256), 4),
              ("64x128", "64 x 128^2", (64, 128, 128), 4),
              ("volume", "128^3 volume", (128, 128, 128), 3)]
    dtypes = [getattr(torch, name) for name in args.dtypes]
    for key, label, shape, level in inputs:
        x64 = rng.standard_normal(shape)  # drawn for every input: the same data when filtered
        if args.inputs is not None and key not in args.inputs:
            continue
        volume = label.endswith("volume")
        for wavelet in args.wavelets:
            for mode in args.modes:
                for dtype in dtypes:
                    x = x64.astype(np.float32) if dtype == torch.float32 else x64
                    xt = torch.from_numpy(x).to(args.device)
                    if volume:
                        ours_f, ours_i = DWTnd(wavelet, level, mode), IDWTnd(wavelet, mode)
                        p_dec = lambda: pywt.wavedecn(x, wavelet, mode=mode, level=level)
                        p_rec = lambda c: pywt.waverecn(c, wavelet, mode=mode)
                    else:
                        ours_f, ours_i = DWT2d(wavelet, level, mode), IDWT2d(wavelet, mode)
                        p_dec = lambda: pywt.wavedec2(x, wavelet, mode=mode, level=level)
                        p_rec = lambda c: pywt.waverec2(c, wavelet, mode=mode)
                    peer = None
                    if ptw is not None and not volume:  # pytorch_wavelets has no 3D DWT
                        peer = (ptw[0](J=level, wave=wavelet, mode=mode).to(args.device, dtype),
                                ptw[1](wave=wavelet, mode=mode).to(args.device, dtype))
                    times = {k: [] for k in ("pd", "od", "td", "pr", "or", "tr")}
                    with torch.no_grad():
                        for _ in range(args.repeat):
                            t, ref = timed(p_dec)
                            times["pd"].append(t)
                            t, rec_ref = timed(lambda: p_rec(ref))
                            times["pr"].append(t)
                            t, ours = timed(lambda: (ours_f(xt), sync())[0])
                            times["od"].append(t)
                            t, rec = timed(lambda: (ours_i(ours), sync())[0])
                            times["or"].append(t)
                            if peer is not None:
                                t, theirs = timed(lambda: (peer[0](xt[:, None]), sync())[0])
                                times["td"].append(t)
                                t, rec_t = timed(lambda: (peer[1](theirs), sync())[0])
                                times["tr"].append(t)
                    ours_layout = ours if volume else (
                        [ours[0]] + [tuple(d.unbind(-3)) for d in ours[1:]])
                    diff = max(_rel(ours_layout, ref), _rel([rec], [rec_ref]))
                    assert diff <= (1e-12 if dtype == torch.float64 else 2e-5), diff
                    t_diff = "-"
                    if peer is not None:
                        yl, yh = theirs
                        layout = [yl[:, 0]] + [tuple(h[:, 0].unbind(1)) for h in yh[::-1]]
                        crop = rec_t[:, 0][..., :rec_ref.shape[-2], :rec_ref.shape[-1]]
                        t_diff = max(_rel(layout, ref), _rel([crop], [rec_ref]))
                        # its filters are float32 constants, also in float64
                        assert t_diff <= 1e-5, t_diff
                        t_diff = f"{t_diff:.0e}"
                    m = {k: min(v) if v else float("nan") for k, v in times.items()}
                    print(f"| {label} | {wavelet} | {mode} | {str(dtype)[6:]} | {m['pd']:.4f} | "
                          f"{m['od']:.4f} | {m['td']:.4f} | {m['pd'] / m['od']:.2f} | "
                          f"{m['td'] / m['od']:.2f} | {m['pr']:.4f} | {m['or']:.4f} | "
                          f"{m['tr']:.4f} | {m['pr'] / m['or']:.2f} | {m['tr'] / m['or']:.2f} | "
                          f"{diff:.0e}, {t_diff} |", flush=True)


CLOCK = time.perf_counter


def timed(fn):
    start = CLOCK()
    out = fn()
    return CLOCK() - start, out


if __name__ == "__main__":
    main()
