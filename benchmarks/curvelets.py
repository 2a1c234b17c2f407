"""Curvelet transform: speed vs the `curvelets` package's UDCT, and a sparsity check on `camera`.

Run: ``.venv/bin/python benchmarks/curvelets.py [--size 512] [--scales 5] [--repeat 7]
[--threads 1]``

1. Speed. ``filters.CurveletTransform`` (FDCT by wrapping, torch, CPU) forward + inverse against
   ``curvelets.numpy.UDCT`` and ``curvelets.torch.UDCT`` (Nguyen-Chauris uniform discrete
   curvelets, NumPy and torch implementations) with the same number of scales, float64 and
   float32, curvelets and wavelets at the finest scale. All run in this process on the same
   image, alternated, best of ``--repeat``; wall and process-CPU times.
   The two are different transforms (different windows and tilings), so "agree" means: both
   reconstruct the image (the errors are printed) and ours preserves energy (printed).
2. Sparsity on ``skimage.data.camera()`` (mean removed): the smallest number of coefficients (real
   numbers; a complex coefficient counts as two) holding 99% of the coefficient energy, as a
   fraction of the pixels and of all coefficients, for curvelets, the orthogonal DWT (pywt, sym8,
   periodization), the same DWT at 6 shifts (a Parseval frame of redundancy 6), and Kymatio-type
   Morlet wavelets (``filters.morlet_2d``, L=8, each scale j subsampled by 2**(j+1), redundancy
   about 5.3, like curvelets' 6.2).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# this file's name shadows the `curvelets` package (the peer) when run as a script: drop its folder
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best wall and process-CPU seconds of ``fn()`` over ``repeat`` calls (after one warm-up)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def speed(size: int, scales: int, repeat: int) -> list[dict]:
    from curvelets.numpy import UDCT
    from curvelets.torch import UDCT as TorchUDCT

    from scatter.filters import CurveletTransform

    rows = []
    image = np.random.default_rng(0).standard_normal((size, size))
    for finest, mode in (("curvelets", "curvelet"), ("wavelets", "wavelet")):
        t0 = time.perf_counter()
        ours = CurveletTransform((size, size), scales, angles=16, finest=finest)
        init_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        peer = UDCT(shape=(size, size), num_scales=scales, high_frequency_mode=mode)
        init_peer = time.perf_counter() - t0
        peer_t = TorchUDCT(shape=(size, size), num_scales=scales, high_frequency_mode=mode)
        peer_red = sum(a.size * (2 if np.iscomplexobj(a) else 1) for s in peer.forward(image)
                       for d in s for a in d) / image.size
        for dtype in (np.float64, np.float32):
            x = image.astype(dtype)
            xt = torch.from_numpy(x)
            c = ours(xt)
            energy = sum((a.abs() ** 2).sum().item() for s in c for a in s) / (xt ** 2).sum().item()
            err_ours = ((ours.inverse(c) - xt).norm() / xt.norm()).item()
            err_peer = float(np.linalg.norm(peer.backward(peer.forward(x)) - x) / np.linalg.norm(x))
            err_peer_t = ((peer_t.backward(peer_t.forward(xt)) - xt).norm() / xt.norm()).item()
            tol = 1e-12 if dtype == np.float64 else 1e-5
            if not (abs(energy - 1) < tol and err_ours < tol):
                raise AssertionError(f"ours is not exact: energy {energy}, error {err_ours}")
            if max(err_peer, err_peer_t) > 1e-3:
                raise AssertionError(f"UDCT does not reconstruct: {err_peer}, {err_peer_t}")
            runs = {"UDCT (NumPy)": lambda: peer.backward(peer.forward(x)),
                    "UDCT (torch)": lambda: peer_t.backward(peer_t.forward(xt)),
                    "ours": lambda: ours.inverse(ours(xt))}
            best = {name: [] for name in runs}
            for _ in range(2):  # alternate to share the machine's load fairly
                for name, fn in runs.items():
                    best[name].append(_best(fn, repeat))
            wo, co = min(best["ours"])
            for name in ("UDCT (NumPy)", "UDCT (torch)"):
                wp, cp = min(best[name])
                rows.append({"finest": finest, "dtype": np.dtype(dtype).name, "peer": name,
                             "red_ours": ours.redundancy, "red_peer": peer_red,
                             "init_ours": init_ours, "init_peer": init_peer,
                             "peer_ms": 1e3 * wp, "ours_ms": 1e3 * wo, "ratio": wp / wo,
                             "peer_cpu": 1e3 * cp, "ours_cpu": 1e3 * co, "cpu_ratio": cp / co,
                             "err_ours": err_ours,
                             "err_peer": err_peer if "NumPy" in name else err_peer_t,
                             "energy": energy})
    return rows


def _count_99(values: np.ndarray) -> int:
    """How many of ``values`` (real numbers) hold 99% of their total squared magnitude."""
    energy = np.sort(values.ravel() ** 2)[::-1]
    return int(np.searchsorted(np.cumsum(energy), 0.99 * energy.sum()) + 1)


def sparsity(scales: int) -> list[dict]:
    import pywt
    from skimage.data import camera

    from scatter.filters import CurveletTransform, morlet_2d

    x = camera().astype(np.float64)
    x -= x.mean()
    n = x.size
    rows = []
    for finest in ("curvelets", "wavelets"):
        T = CurveletTransform(x.shape, scales, angles=16, finest=finest)
        v = T.flatten(T(torch.from_numpy(x))).numpy()
        rows.append({"method": f"curvelets (FDCT wrapping, finest={finest})",
                     "redundancy": v.size / n,
                     "count": _count_99(v), "total": v.size, "pixels": n})
    coeffs = pywt.wavedec2(x, "sym8", mode="periodization", level=scales - 1)
    v = pywt.coeffs_to_array(coeffs)[0]
    rows.append({"method": f"orthogonal DWT (pywt sym8, {scales - 1} levels)",
                 "redundancy": v.size / n,
                 "count": _count_99(v), "total": v.size, "pixels": n})
    # the same basis at several shifts (cycle spinning), scaled to a Parseval frame: a DWT frame
    # at a redundancy close to the curvelets'
    shifts = [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2)]
    def dwt(image):
        return pywt.coeffs_to_array(pywt.wavedec2(image, "sym8", mode="periodization",
                                                  level=scales - 1))[0].ravel()

    v = np.concatenate([dwt(np.roll(x, s, axis=(0, 1))) for s in shifts]) / np.sqrt(len(shifts))
    rows.append({"method": f"DWT frame: sym8 at {len(shifts)} shifts (cycle spinning)",
                 "redundancy": v.size / n, "count": _count_99(v), "total": v.size, "pixels": n})
    J = scales - 1
    bank = morlet_2d(x.shape, J, L=8)
    xhat = np.fft.fft2(x)
    parts = []
    for k in range(len(bank)):
        step = 2 ** (int(bank.meta["j"][k]) + 1)
        y = np.fft.ifft2(xhat * bank.psi[k])[::step, ::step]
        parts += [y.real.ravel(), y.imag.ravel()]
    parts.append(np.fft.ifft2(xhat * bank.phi).real[::2 ** J, ::2 ** J].ravel())
    v = np.concatenate(parts)
    rows.append({"method": f"Morlet (filters.morlet_2d J={J}, L=8, subsampled 2^(j+1))",
                 "redundancy": v.size / n, "count": _count_99(v), "total": v.size, "pixels": n})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--scales", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (NumPy's FFT in UDCT uses one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"forward + inverse, {args.size}x{args.size}, {args.scales} scales, torch threads "
          f"{torch.get_num_threads()}, best of {args.repeat} (x2 alternated)\n")
    header = ("| finest | dtype | peer | redundancy ours / peer | peer ms | ours ms | speed-up "
              "| peer CPU ms | ours CPU ms | CPU speed-up | rec. err ours | rec. err peer "
              "| energy ours - 1 |")
    print(header)
    print("|" + "|".join(["---"] * 13) + "|")
    for r in speed(args.size, args.scales, args.repeat):
        print(f"| {r['finest']} | {r['dtype']} | {r['peer']} | {r['red_ours']:.2f} / "
              f"{r['red_peer']:.2f} | {r['peer_ms']:.1f} | {r['ours_ms']:.1f} | {r['ratio']:.2f} | "
              f"{r['peer_cpu']:.1f} | {r['ours_cpu']:.1f} | {r['cpu_ratio']:.2f} | "
              f"{r['err_ours']:.1e} | {r['err_peer']:.1e} | {r['energy'] - 1:.1e} |")
    print("\nsparsity on camera (512x512, mean removed): coefficients holding 99% of the energy\n")
    print("| method | redundancy | count | count / pixels | count / coefficients |")
    print("|---|---|---|---|---|")
    for r in sparsity(args.scales):
        print(f"| {r['method']} | {r['redundancy']:.2f} | {r['count']} | "
              f"{r['count'] / r['pixels']:.4f} | "
              f"{r['count'] / r['total']:.4f} |")


if __name__ == "__main__":
    main()
