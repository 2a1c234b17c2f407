"""Scattering speed: Kymatio 0.3 (torch frontend) against ours, in one process, same inputs.

Cases (a)-(e) are 2D and 1D scattering, (f)-(h) 3D solid harmonic scattering
(``HarmonicScattering3D``, ``L`` its largest degree). For each case the script builds both
transforms, checks that their outputs agree (relative max-abs error <= 1e-5 in float32), then times them alternately (on the CPU each call after a
30 ms pause, see ``SETTLE_S``) and prints the median time per batch, images per second, peak
memory, the ratio Kymatio / ours (of the medians, and the median of
the ratios of each Kymatio call to our call right after it, steadier when the machine's speed
drifts), the same ratio back to back (each implementation called ``BLOCK`` times in a row
after one untimed call, the blocks alternating; the median of each block: the steady state of a
loop over batches, where the pause before every call above makes a short call pay for the
machine waking up), and ours against the "FFT floor":
the bare batched real FFTs an optimal cascade needs (one forward FFT of the input; per order-1
path one inverse and one forward at its subsampled size; per order-2 path one inverse and one
forward; the final inverse FFTs of the low-passed maps).

Memory on the CPU is the growth of the resident set's high-water mark during one forward pass
in a fresh process (median of three processes), for the first call and for a later one (the
steady state of a long feature extraction: ours keeps its work buffers between calls, Kymatio
its allocator's free lists); on CUDA the allocator's peak.

Usage::

    python benchmarks/scattering.py                  # CPU, the issue's cases
    python benchmarks/scattering.py --device cuda --gpu-sizes
    python benchmarks/scattering.py --cases a b --repeat 5
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

# the repository root first: benchmarks/ (the script's folder) holds filters.py, which would
# otherwise shadow the `filters` package
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))


@dataclass
class Case:
    key: str
    batch: tuple      # leading dims, e.g. (128, 1)
    size: tuple       # (H, W) or (N,)
    J: int
    L: int = 8
    Q: int = 8

    @property
    def dim(self) -> int:
        return len(self.size)

    def label(self) -> str:
        dims = "x".join(map(str, self.batch + self.size))
        return f"({self.key}) {dims} J={self.J}" + (f" L={self.L}" if self.dim >= 2 else f" Q={self.Q}")


CPU_CASES = [Case("a", (128, 1), (32, 32), 2), Case("b", (16, 1), (128, 128), 3),
             Case("c", (4, 1), (256, 256), 4), Case("d", (16,), (65536,), 10),
             Case("e", (128, 3), (32, 32), 2),
             # 3D solid harmonic scattering (HarmonicScattering3D, L is the largest degree)
             Case("f", (8,), (32, 32, 32), 2, L=3), Case("g", (4,), (64, 64, 64), 2, L=3),
             Case("h", (1,), (128, 128, 128), 2, L=3)]
GPU_CASES = [Case("a", (1024, 1), (32, 32), 2), Case("b", (256, 1), (128, 128), 3),
             Case("c", (64, 1), (256, 256), 4), Case("d", (256,), (65536,), 10),
             Case("e", (1024, 3), (32, 32), 2), Case("f", (64,), (32, 32, 32), 2, L=3),
             Case("g", (16,), (64, 64, 64), 2, L=3), Case("h", (4,), (128, 128, 128), 2, L=3)]


def _kymatio_sph_harm() -> None:
    """Kymatio 0.3's 3D filters call ``scipy.special.sph_harm(m, n, azimuth, polar)``, which
    SciPy 1.17 removed: supply it from ``sph_harm_y(n, m, polar, azimuth)`` (ours uses neither)."""
    import scipy.special

    if not hasattr(scipy.special, "sph_harm"):
        scipy.special.sph_harm = lambda m, n, theta, phi: scipy.special.sph_harm_y(n, m, phi, theta)


def build(case: Case, device: str):
    """Kymatio's and our transform for ``case``, on ``device``."""
    import kymatio

    if case.dim == 3:
        from scatter import HarmonicScattering3D

        _kymatio_sph_harm()
        from kymatio.torch import HarmonicScattering3D as Kymatio3D

        theirs = Kymatio3D(case.J, case.size, L=case.L).to(device)
        ours = HarmonicScattering3D(case.J, case.size, L=case.L).to(device)
    elif case.dim == 2:
        from scatter import Scattering2D

        theirs = kymatio.Scattering2D(case.J, case.size, L=case.L, frontend="torch").to(device)
        ours = Scattering2D(case.J, case.size, L=case.L).to(device)
    else:
        from scatter import Scattering1D

        theirs = kymatio.Scattering1D(case.J, case.size[0], Q=case.Q, frontend="torch").to(device)
        ours = Scattering1D(case.J, case.size[0], Q=case.Q).to(device)
    return theirs, ours


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# Pause before each timed call on the CPU. After a multi-threaded operation torch's OpenMP threads
# (libgomp) spin-wait for more work for about 9 ms before they sleep: without the pause, the
# threads left spinning by one implementation's call would compete for the cores with the other's
# call, which always follows it when calls alternate (the asymmetry measured 10-15% on (a)).
SETTLE_S = 0.03


def median_time(fn, device: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        synchronize(device)
        if not device.startswith("cuda"):
            time.sleep(SETTLE_S)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# Calls per back-to-back block (see block_time)
BLOCK = 5


def block_time(fn, device: str, calls: int = BLOCK) -> float:
    """Median time of ``calls`` consecutive calls, after one untimed call (no pauses: what a loop
    over batches sees; OpenMP threads left spinning by the other implementation's block only
    slow the untimed call)."""
    fn()
    synchronize(device)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fft_floor_ops(case: Case, ours) -> list:
    """(shape, kind) of every batched FFT an optimal cascade needs for ``case``."""
    B = int(np.prod(case.batch))
    if case.dim == 1:
        return ours.fft_floor_shapes(B)
    if case.dim == 3:
        # one forward FFT of the input; per degree l and scale j1, l + 1 complex inverse FFTs
        # (the wavelets are complex in frequency; the l negative orders m follow from the
        # positive ones for a real map, scatter.engine.mirror3d, up to 2D transforms of the
        # Nyquist planes, not counted); per order-1 map followed by order 2, one forward FFT and
        # l + 1 inverse FFTs per later scale j2
        ops = [((B, *case.size), "rfft")]
        for l in range(case.L + 1):
            for j1 in range(case.J + 1):
                ops.append(((B * (l + 1), *case.size), "ifft"))
                if j1 < case.J:
                    ops.append(((B, *case.size), "rfft"))
                    ops += [((B * (l + 1), *case.size), "ifft")] * (case.J - j1)
        return ops
    Mp, Np = ours.padded_shape
    J, L = case.J, case.L
    ops = [((B, Mp, Np), "rfft")]
    for j1 in range(J):
        m, n = Mp // 2 ** j1, Np // 2 ** j1
        ops += [((B * L, m, n), "irfft"), ((B * L, m, n), "rfft")]
        for j2 in range(j1 + 1, J):
            m2, n2 = Mp // 2 ** j2, Np // 2 ** j2
            ops += [((B * L * L, m2, n2), "irfft"), ((B * L * L, m2, n2), "rfft")]
    channels = 1 + J * L + L * L * J * (J - 1) // 2
    ops.append(((B * channels, Mp // 2 ** J, Np // 2 ** J), "irfft"))
    return ops


def fft_floor(case: Case, ours, device: str, repeat: int) -> float:
    tensors, made = [], {}
    for shape, kind in fft_floor_ops(case, ours):
        if case.dim == 3 and (shape, kind) in made:
            # 3D: one input per shape (a fresh one per FFT would hold GBs at 128^3)
            tensors.append(made[shape, kind])
            continue
        dims = tuple(range(-(len(shape) - 1), 0))
        if kind == "rfft":
            tensors.append((torch.randn(shape, device=device), kind, dims, None))
        elif kind == "ifft":
            tensors.append((torch.randn(shape, dtype=torch.complex64, device=device), kind, dims, None))
        else:
            half = shape[:-1] + (shape[-1] // 2 + 1,)
            tensors.append((torch.randn(half, dtype=torch.complex64, device=device), kind, dims, shape[-len(dims):]))
        made[shape, kind] = tensors[-1]

    def run():
        for t, kind, dims, s in tensors:
            if kind == "ifft":
                torch.fft.ifftn(t, dim=dims)
            else:
                torch.fft.rfftn(t, dim=dims) if kind == "rfft" else torch.fft.irfftn(t, s=s, dim=dims)

    run()
    return median_time(run, device, repeat)


def peak_memory_mb(fn, device: str) -> float:
    """Peak memory of one call: CUDA allocator peak, or peak resident set growth on the CPU."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    return float("nan")


def cpu_peak_rss_mb(case_key: str, impl: str, gpu_sizes: bool, runs: int = 3) -> tuple[float, float]:
    """Peak resident-memory growth of a forward pass: (first call, steady state), in MB.

    Each is the median over ``runs`` fresh processes (the first-call figure moves by several MB
    from one process to the next: allocator arenas, thread start-up)."""
    import subprocess

    # load this file by path: putting benchmarks/ on sys.path would shadow the `filters` package
    # with benchmarks/filters.py
    code = ("import importlib.util as u; "
            f"s = u.spec_from_file_location('bench_scattering', {os.path.abspath(__file__)!r}); "
            "b = u.module_from_spec(s); import sys; sys.modules['bench_scattering'] = b; "
            "s.loader.exec_module(b); "
            f"b._rss_child({case_key!r}, {impl!r}, {gpu_sizes}, {torch.get_num_threads()})")
    firsts, steadies = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        try:
            first, steady = map(float, out.stdout.strip().splitlines()[-1].split())
        except (ValueError, IndexError):
            return float("nan"), float("nan")
        firsts.append(first)
        steadies.append(steady)
    return statistics.median(firsts), statistics.median(steadies)


def _rss_child(case_key: str, impl: str, gpu_sizes: bool, threads: int = 1) -> None:
    """Print the peak resident-memory growth (MB) of a first and of a later forward pass."""
    torch.set_num_threads(threads)
    case = next(c for c in (GPU_CASES if gpu_sizes else CPU_CASES) if c.key == case_key)
    theirs, ours = build(case, "cpu")
    x = torch.randn(case.batch + case.size)
    fn = theirs if impl == "kymatio" else ours

    def status(field: str) -> float:
        with open("/proc/self/status") as f:
            return next(float(line.split()[1]) for line in f if line.startswith(field)) / 1024

    # initialise the numerical libraries both implementations call (FFT, BLAS, NumPy) on tiny
    # inputs: their one-time workspaces are not memory of the batch
    z = torch.randn(8, 8)
    torch.fft.ifft2(torch.fft.rfft2(z)).abs()
    torch.matmul(z, torch.matmul(z[None], z))
    peaks = []
    for _ in range(2):   # a first call, then the steady state (buffers and caches already made)
        with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark (Linux)
            f.write("5")
        before = status("VmRSS:")
        with torch.no_grad():
            y = fn(x)
        peaks.append(status("VmHWM:") - before)
        del y
    print(*peaks)


def run_case(case: Case, device: str, repeat: int, gpu_sizes: bool, memory: bool) -> dict:
    torch.manual_seed(0)
    theirs, ours = build(case, device)
    x = torch.randn(case.batch + case.size, device=device)
    with torch.no_grad():
        ref, out = theirs(x), ours(x)
        error = float((out - ref).abs().max() / ref.abs().max())
        if not error <= 1e-5:
            raise AssertionError(f"{case.label()}: outputs differ, relative error {error:.2e}")
        times_k, times_o = [], []
        for _ in range(repeat):  # alternate so that both see the same machine state
            times_k.append(median_time(lambda: theirs(x), device, 1))
            times_o.append(median_time(lambda: ours(x), device, 1))
        blocks_k, blocks_o = [], []
        for _ in range(repeat):  # back to back, blocks alternating
            blocks_k.append(block_time(lambda: theirs(x), device))
            blocks_o.append(block_time(lambda: ours(x), device))
        floor = fft_floor(case, ours, device, repeat)
        if memory and device.startswith("cuda"):
            mem_k, mem_o = ((peak_memory_mb(lambda: f(x), device), peak_memory_mb(lambda: f(x), device))
                            for f in (theirs, ours))
        elif memory:
            mem_k, mem_o = (cpu_peak_rss_mb(case.key, impl, gpu_sizes) for impl in ("kymatio", "ours"))
        else:
            mem_k = mem_o = (float("nan"), float("nan"))
    tk, to = statistics.median(times_k), statistics.median(times_o)
    images = int(np.prod(case.batch))
    # each Kymatio call and the ours right after it see nearly the same machine speed: the median
    # of these pair ratios is steadier than the ratio of medians when the machine's speed drifts
    pair_ratio = statistics.median(k / o for k, o in zip(times_k, times_o))
    steady = dict(kymatio_b2b=statistics.median(blocks_k), ours_b2b=statistics.median(blocks_o),
                  ratio_b2b=statistics.median(k / o for k, o in zip(blocks_k, blocks_o)))
    return dict(case=case.label(), error=error, kymatio=tk, ours=to, ratio=tk / to, pair_ratio=pair_ratio, **steady,
                ips_kymatio=images / tk, ips_ours=images / to, floor=floor, over_floor=to / floor,
                mem_kymatio=mem_k, mem_ours=mem_o)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cases", nargs="*", default=None,
                        help="subset of case keys (a b c d e: 2D and 1D; f g h: 3D)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--gpu-sizes", action="store_true", help="the larger batches meant for a GPU")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    cases = GPU_CASES if args.gpu_sizes else CPU_CASES
    if args.cases:
        cases = [c for c in cases if c.key in args.cases]
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"# device={args.device} ({device_name}), threads={args.threads}, torch {torch.__version__}, "
          f"repeat={args.repeat}, float32")
    header = ("| case | rel. error | Kymatio ms | ours ms | Kymatio/ours | pair ratio | back to back: Kymatio ms "
              "| ours ms | Kymatio/ours | ours img/s | FFT floor ms | "
              "ours/floor | peak MB Kymatio first/steady | peak MB ours first/steady |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for case in cases:
        try:
            r = run_case(case, args.device, args.repeat, args.gpu_sizes, not args.no_memory)
        except ImportError as exc:
            print(f"| {case.label()} | skipped: {exc} |")
            continue
        print(f"| {r['case']} | {r['error']:.1e} | {1e3 * r['kymatio']:.1f} | {1e3 * r['ours']:.1f} | "
              f"{r['ratio']:.2f} | {r['pair_ratio']:.2f} | {1e3 * r['kymatio_b2b']:.1f} | {1e3 * r['ours_b2b']:.1f} | "
              f"{r['ratio_b2b']:.2f} | {r['ips_ours']:.0f} | {1e3 * r['floor']:.1f} | {r['over_floor']:.2f} | "
              f"{r['mem_kymatio'][0]:.0f} / {r['mem_kymatio'][1]:.0f} | "
              f"{r['mem_ours'][0]:.0f} / {r['mem_ours'][1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
