"""Olshausen-Field protocol: sparse coding of whitened natural-image patches, ours against
scikit-learn's MiniBatchDictionaryLearning on the same patches and the same lambda.

Protocol (issue 6): 16x16 patches, 256 atoms, about 400k patches seen, lambda giving a relative
reconstruction MSE of 10-15% with at most 15% active coefficients. Both learners see the same
patch stream in the same order; at checkpoints (untimed) both dictionaries are scored by the
same converged FISTA lasso on the same held-out patches, so objectives are comparable and the
time each takes to reach a given objective can be read off. Then the Gabor summary of both.

    .venv/bin/python benchmarks/olshausen_field.py            # full protocol
    .venv/bin/python benchmarks/olshausen_field.py --quick    # a minute, for a smoke test
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

# benchmarks/filters.py would shadow the `filters` package: drop this folder from the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np
import torch


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=100_000, help="distinct training patches")
    ap.add_argument("--epochs", type=int, default=4, help="passes (patches seen = n_train * epochs)")
    ap.add_argument("--n-test", type=int, default=20_000, help="held-out patches for the final score")
    ap.add_argument("--n-check", type=int, default=2_000, help="held-out patches at checkpoints")
    ap.add_argument("--checkpoints", type=int, default=7,
                    help="checkpoints per learner, log-spaced in patches seen")
    ap.add_argument("--alpha", type=float, default=1.0, help="lambda (pixel variance is 1)")
    ap.add_argument("--batch-size", type=int, default=512, help="our mini-batch")
    ap.add_argument("--sk-batch-size", type=int, default=256, help="scikit-learn's mini-batch")
    ap.add_argument("--inference-iter", type=int, default=20, help="our FISTA steps per batch")
    ap.add_argument("--eval-iter", type=int, default=300, help="FISTA iterations of the scorer")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch and BLAS threads for both (1: on a shared, oversubscribed machine "
                         "OpenMP with 2 threads is many times slower)")
    ap.add_argument("--device", default="cpu", help="device of our learner (cpu, cuda)")
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    ap.add_argument("--out", default="out/olshausen_field")
    args = ap.parse_args()
    if args.quick:
        args.n_train, args.epochs, args.n_test, args.n_check = 8192, 1, 2000, 1000
        args.checkpoints = 2
    return args


def score(D: torch.Tensor, X: torch.Tensor, alpha: float, n_iter: int) -> dict:
    """Converged lasso objective, relative MSE and active fraction of dictionary D on X."""
    from scatter.models.sparse_coding import infer_codes, sparse_objective
    codes = infer_codes(X, D, alpha, "l1", n_iter)
    r = X - codes @ D.T
    return {"objective": float(sparse_objective(X, codes, D, alpha, "l1")),
            "relative_mse": float((r * r).sum() / (X * X).sum()),
            "active_fraction": float((codes != 0).float().mean()),
            "codes": codes}


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits
    threadpool_limits(args.threads)
    from scatter.models.natural_images import natural_patches
    from scatter.models.sparse_coding import SparseCoding
    from scatter.models.sparse_summary import dictionary_summary, plot_dictionary

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    X_all = natural_patches(args.n_train + args.n_test, 16, random_state=0)
    X_train, X_test = X_all[:args.n_train], X_all[args.n_train:]
    X_check = torch.as_tensor(X_test[:args.n_check])
    X_test_t = torch.as_tensor(X_test)
    n_seen_total = args.n_train * args.epochs
    print(f"patches: {args.n_train} train x {args.epochs} epochs = {n_seen_total} seen, "
          f"{args.n_test} held out ({time.perf_counter() - t0:.1f} s); alpha = {args.alpha}; "
          f"threads = {args.threads}; torch {torch.__version__}")
    rng = np.random.default_rng(1)
    stream = [X_train[rng.permutation(args.n_train)] for _ in range(args.epochs)]
    stream = np.concatenate(stream)            # the same patch order for both learners
    # log-spaced checkpoints (multiples of both batch sizes): time-to-objective early matters
    unit = int(np.lcm(args.batch_size, args.sk_batch_size))
    checks = np.geomspace(n_seen_total / 2 ** (args.checkpoints - 1), n_seen_total, args.checkpoints)
    checks = np.unique(np.concatenate([[0], np.maximum(np.round(checks / unit), 1) * unit])).astype(int)

    results = {}
    # ------------------------------------------------------------------ ours
    ours = SparseCoding(256, alpha=args.alpha, batch_size=args.batch_size,
                        inference_iter=args.inference_iter, device=args.device, random_state=0)
    dev = torch.device(args.device)
    stream_t = torch.as_tensor(stream, device=dev)
    curve, elapsed = [], 0.0
    for a, b in zip(checks[:-1], checks[1:]):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        ours.partial_fit(stream_t[a:b])        # _finish() copies the dictionary: a host sync
        elapsed += time.perf_counter() - t
        D = torch.as_tensor(ours.dictionary_.T.copy())
        curve.append((int(b), elapsed, score(D, X_check, args.alpha, args.eval_iter)["objective"]))
        print(f"  ours    seen {b:7d}  {elapsed:7.1f} s  held-out objective {curve[-1][2]:.3f}",
              flush=True)
    results["ours"] = {"time_s": elapsed, "curve": curve, "D": ours.dictionary_}

    # ------------------------------------------------------------------ scikit-learn
    if not args.no_sklearn:
        from sklearn.decomposition import MiniBatchDictionaryLearning
        sk = MiniBatchDictionaryLearning(256, alpha=args.alpha, batch_size=args.sk_batch_size,
                                         fit_algorithm="cd", transform_algorithm="lasso_cd",
                                         transform_alpha=args.alpha, random_state=0)
        stream64 = stream.astype(np.float64)
        curve, elapsed = [], 0.0
        bs = args.sk_batch_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # coordinate-descent convergence warnings
            for a, b in zip(checks[:-1], checks[1:]):
                t = time.perf_counter()
                for s in range(a, b - bs + 1, bs):
                    sk.partial_fit(stream64[s:s + bs])
                elapsed += time.perf_counter() - t
                D = torch.as_tensor(sk.components_.T.astype(np.float32))
                curve.append((int(b), elapsed, score(D, X_check, args.alpha, args.eval_iter)["objective"]))
                print(f"  sklearn seen {b:7d}  {elapsed:7.1f} s  held-out objective {curve[-1][2]:.3f}",
                      flush=True)
        results["sklearn"] = {"time_s": elapsed, "curve": curve,
                              "D": sk.components_.astype(np.float32)}

    # ------------------------------------------------------------------ final scores
    rows = []
    init_summary = dictionary_summary(_initial_atoms())
    for name, res in results.items():
        D = torch.as_tensor(res["D"].T.copy())
        sc = score(D, X_test_t, args.alpha, args.eval_iter)
        summ = dictionary_summary(res["D"], sc["codes"].numpy(), X_test)
        res.update(sc, summary=summ)
        plot_dictionary(res["D"], out / f"dictionary_{name}.png", r2=summ["fit"].r2,
                        title=f"{name}: alpha={args.alpha}, {n_seen_total} patches, "
                              f"R2>0.8: {summ['gabor_fraction_r2_0.8']:.0%} (red: R2<=0.8)")
        rows.append(name)

    print(f"\nGabor fraction R2>0.8 at initialisation (random atoms): "
          f"{init_summary['gabor_fraction_r2_0.8']:.3f}")
    hdr = (f"{'learner':8s} {'time s':>8s} {'objective':>10s} {'rel MSE':>8s} {'active':>7s} "
           f"{'R2>.8':>6s} {'R2>.9':>6s} {'R2>.8&f>=1/16':>13s} {'orient min/max':>14s} "
           f"{'kurtosis':>8s} {'entropy':>8s}")
    print(hdr)
    for name in rows:
        r, s = results[name], results[name]["summary"]
        print(f"{name:8s} {r['time_s']:8.1f} {r['objective']:10.4f} {r['relative_mse']:8.3f} "
              f"{r['active_fraction']:7.3f} {s['gabor_fraction_r2_0.8']:6.3f} "
              f"{s['gabor_fraction_r2_0.9']:6.3f} {s['gabor_fraction_r2_0.8_freq_1/16']:13.3f} "
              f"{s['orientation_min_over_max']:14.2f} {s['code_kurtosis']:8.1f} "
              f"{s['code_entropy_bits']:8.2f}")
    for name in rows:
        s = results[name]["summary"]
        print(f"{name}: orientation hist (22.5 deg bins from 0) {s['orientation_hist'].tolist()}, "
              f"frequency hist (edges {[round(float(e), 4) for e in s['frequency_edges']]}) "
              f"{s['frequency_hist'].tolist()}")
    if "sklearn" in results:
        # time each learner needs to reach the worse of the two final objectives (first
        # checkpoint at or below it): "to the same objective"
        finals = {name: results[name]["curve"][-1][2] for name in ("ours", "sklearn")}
        target = max(finals.values())
        first = {name: next(t for _, t, o in results[name]["curve"] if o <= target)
                 for name in finals}
        print(f"\nfinal held-out checkpoint objective: ours {finals['ours']:.4f}, sklearn "
              f"{finals['sklearn']:.4f}; time to reach {target:.4f}: ours {first['ours']:.1f} s, "
              f"sklearn {first['sklearn']:.1f} s -> ours {first['sklearn'] / first['ours']:.1f}x "
              f"faster to the same objective (checkpoint resolution)")
        print(f"whole-run wall time ratio sklearn / ours: "
              f"{results['sklearn']['time_s'] / results['ours']['time_s']:.2f}")
    print(f"\ntotal wall time of this script: {time.perf_counter() - t0:.1f} s")
    summary = {name: {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                      for k, v in res["summary"].items() if k != "fit"}
               | {"time_s": res["time_s"], "objective": res["objective"],
                  "relative_mse": res["relative_mse"], "active_fraction": res["active_fraction"],
                  "curve": res["curve"]}
               for name, res in results.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


def _initial_atoms():
    """The random initial dictionary of our learner (seed 0), for the before/after contrast."""
    gen = torch.Generator().manual_seed(0)
    D = torch.randn(256, 256, generator=gen)
    return (D / D.norm(dim=0, keepdim=True)).T.numpy()


if __name__ == "__main__":
    main()
