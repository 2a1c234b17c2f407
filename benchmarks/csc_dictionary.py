"""Convolutional dictionary learning on the bundled natural images; Gabor fits of the filters.

Learns ``--filters`` filters of ``--size``² pixels from the high-passed (Tikhonov, λ_t = 5)
natural images of :func:`scatter.models.natural_images.natural_images` (a 128x128 crop of each,
downsampled by 2), in mini-batch mode, then fits a 2D Gabor to every filter
(:func:`scatter.filters.fit_gabor`) and prints the R² distribution. Saves the filters to
``out/csc_dictionary.png``.

Usage: ``python benchmarks/csc_dictionary.py [--filters 32] [--size 8] [--steps 100] [--batch 4]
[--dict-iter 50] [--coding-iter 30]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scatter.models import ConvDictionaryLearning, tikhonov_split  # noqa: E402
from scatter.models.natural_images import natural_images  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filters", type=int, default=32)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=4, help="mini-batch size; 0: full batch")
    ap.add_argument("--lmbda", type=float, default=0.05)
    ap.add_argument("--dict-iter", type=int, default=50, help="FISTA iterations per filter step")
    ap.add_argument("--coding-iter", type=int, default=30, help="ADMM iterations per coding step")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    crops = []
    for im in natural_images():
        h, w = im.shape
        im = im[::2, ::2]
        y, x = (im.shape[0] - 128) // 2, (im.shape[1] - 128) // 2
        crops.append(im[y:y + 128, x:x + 128])
    s = tikhonov_split(torch.from_numpy(np.stack(crops)), 5.0)[1][:, None]
    t0 = time.perf_counter()
    dl = ConvDictionaryLearning(n_filters=args.filters, filter_size=args.size, lmbda=args.lmbda,
                                n_iter=args.steps, batch_size=args.batch or None,
                                coding_iter=args.coding_iter, dict_iter=args.dict_iter,
                                random_state=0).fit(s)
    elapsed = time.perf_counter() - t0
    # full-batch objective of the learned dictionary vs the initial filters
    init = ConvDictionaryLearning(n_filters=args.filters, filter_size=args.size, lmbda=args.lmbda,
                                  n_iter=1, coding_iter=1, dict_iter=1, random_state=0)
    D0 = init._init_dictionary(1, s.float())
    from scatter.models import ConvSparseCoding, csc_objective
    f = {}
    for name, D in (("initial", D0), ("learned", torch.from_numpy(dl.dictionary_).float())):
        maps = ConvSparseCoding(D, args.lmbda, max_iter=100, history=False).solve(s.float()).maps
        f[name] = csc_objective(D, maps, s.float(), args.lmbda).sum().item()
    print(f"{len(crops)} images 128x128, {args.filters} filters {args.size}x{args.size}, "
          f"{args.steps} steps of {args.batch or len(crops)} images: {elapsed:.1f} s; "
          f"objective (100 ADMM its) initial filters {f['initial']:.2f} -> learned "
          f"{f['learned']:.2f}")
    try:
        from scatter.filters import fit_gabor
    except ImportError:
        print("filters.fit_gabor not available: no Gabor fits")
        return
    fit = fit_gabor(dl.dictionary_[:, 0])
    r2 = np.asarray(fit.r2)
    q = np.quantile(r2, [0.1, 0.25, 0.5, 0.75, 0.9])
    print("fit_gabor R² quantiles (10/25/50/75/90 %): " + " ".join(f"{v:.2f}" for v in q)
          + f"; fraction with R² >= 0.7: {(r2 >= 0.7).mean():.2f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        n = args.filters
        cols = 8
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.3))
        for k, ax in enumerate(np.ravel(axes)):
            ax.axis("off")
            if k < n:
                ax.imshow(dl.dictionary_[k, 0], cmap="gray")
                ax.set_title(f"R² {r2[k]:.2f}", fontsize=6)
        Path("out").mkdir(exist_ok=True)
        fig.savefig("out/csc_dictionary.png", dpi=120, bbox_inches="tight")
        print("filters saved to out/csc_dictionary.png")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
