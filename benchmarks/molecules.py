"""Molecular atomization energies (QM9) from solid harmonic scattering, against the Coulomb matrix.

The study of Eickenberg, Exarchakis, Hirn, Mallat & Thiry (J. Chem. Phys. 148, 241732, 2018),
sized for a 2-core machine:

- data: QM9 from the ``qm9pack`` CSV files (:func:`scatter.models.load_qm9`); target the
  atomization energy at 0 K, ``U0`` less the free atoms' ``U0`` (QM9's atomref table), kcal/mol;
  a random split (``--n-train`` / ``--n-test`` molecules, ``--seed``);
- densities: per molecule, a Gaussian of width ``--width`` angstrom per atom on a
  ``--grid``^3 grid of spacing ``--spacing`` angstrom (centred on the molecule's bounding box),
  weighted by the full nuclear charge ``Z``, the valence charge (``Z`` less the 1s core: H 1, C 4,
  N 5, O 6, F 7) and the core charge (``Z`` - valence), as in the paper;
- features: for each density, the integrals ``sum rho**q`` (order 0) and
  :class:`scatter.HarmonicScattering3D` (``J``, ``L``, ``integral_powers=q``) coefficients;
- regressions, hyper-parameters chosen by cross-validation on the training molecules only:
  ridge (linear, ``RidgeCV``, leave-one-out over a grid of penalties) and kernel ridge with a
  Gaussian kernel (``GridSearchCV``, 3 folds on at most 2,000 training molecules, then refitted
  on all of them) on standardised features;
- baseline on the same split: the Coulomb matrix (Rupp et al., PRL 108, 058301, 2012; sorted
  eigenvalues, and rows sorted by norm) with Laplacian-kernel ridge regression (the same CV).

Reports MAE and RMSE (kcal/mol) on the test molecules, the features' time per molecule, and
writes a predicted-vs-true figure. Needs ``pip install qm9pack`` (about 100 MB; not a test
dependency).

Usage::

    python benchmarks/molecules.py --quick                 # smoke test: 300 / 100 molecules
    python benchmarks/molecules.py --n-train 10000 --n-test 2000 --figure docs/images/qm9_energies.png
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

VALENCE = {1: 1, 6: 4, 7: 5, 8: 6, 9: 7}


def densities(charges: list, positions: list, grid: int, spacing: float, width: float) -> torch.Tensor:
    """Full, valence and core densities of each molecule: ``(n, 3, grid, grid, grid)`` float32.

    Each atom is an isotropic Gaussian of ``width`` angstrom (unit mass times its charge) on a grid
    of ``spacing`` angstrom, the molecule centred on its bounding box (the grid's centre)."""
    n, most = len(charges), max(len(z) for z in charges)
    Z = np.zeros((n, most))
    R = np.zeros((n, most, 3))
    for i, (z, r) in enumerate(zip(charges, positions)):
        Z[i, :len(z)] = z
        R[i, :len(z)] = r - (r.max(0) + r.min(0)) / 2
    valence = np.vectorize(lambda z: VALENCE.get(int(z), 0))(Z)
    weights = np.stack([Z, valence, Z - valence], 1)                          # (n, 3, atoms)
    axis = (np.arange(grid) - grid / 2) * spacing                             # angstrom
    g = np.exp(-(axis[None, None, None, :] - R[..., None]) ** 2 / (2 * width ** 2))   # (n, atoms, 3, grid)
    g /= np.sqrt(2 * np.pi) * width / spacing                                 # per voxel, sums to 1
    g = torch.from_numpy(g)
    w = torch.from_numpy(weights)
    rho = torch.einsum("nwk,nka,nkb,nkc->nwabc", w, g[:, :, 0], g[:, :, 1], g[:, :, 2])
    return rho.float()


def scattering_features(data, args) -> tuple[np.ndarray, float]:
    """Order-0 integrals and solid harmonic scattering of the three densities, and seconds per molecule."""
    from scatter import HarmonicScattering3D

    powers = tuple(args.powers)
    S = HarmonicScattering3D(args.J, (args.grid,) * 3, L=args.L, sigma_0=args.sigma_0,
                             integral_powers=powers)
    rows = []
    start = time.perf_counter()
    with torch.no_grad():
        for lo in range(0, len(data), args.batch):
            rho = densities(data.charges[lo:lo + args.batch], data.positions[lo:lo + args.batch],
                            args.grid, args.spacing, args.width)
            n = rho.shape[0]
            order0 = torch.stack([rho.reshape(n, 3, -1).pow(q).sum(-1) for q in powers], -1)
            coefs = S(rho)                                                    # (n, 3, K, L+1, P)
            rows.append(torch.cat([order0.reshape(n, -1), coefs.reshape(n, -1)], 1).double().numpy())
    return np.concatenate(rows), (time.perf_counter() - start) / len(data)


def coulomb_matrices(data, size: int = 29) -> tuple[np.ndarray, np.ndarray, float]:
    """Sorted eigenvalues ``(n, size)`` and row-norm-sorted upper triangles of the Coulomb matrix
    (positions in bohr), and seconds per molecule."""
    start = time.perf_counter()
    eig, rows = [], []
    iu = np.triu_indices(size)
    for z, r in zip(data.charges, data.positions):
        r = r / 0.529177210903
        d = np.linalg.norm(r[:, None] - r[None], axis=-1)
        with np.errstate(divide="ignore"):
            C = np.where(d > 0, np.outer(z, z) / np.where(d > 0, d, 1), 0.0)
        C[np.diag_indices(len(z))] = 0.5 * z.astype(float) ** 2.4
        full = np.zeros((size, size))
        full[:len(z), :len(z)] = C
        values = np.linalg.eigvalsh(C)
        eig.append(np.sort(np.concatenate([values, np.zeros(size - len(z))]))[::-1])
        order = np.argsort(-np.linalg.norm(full, axis=1), kind="stable")
        rows.append(full[order][:, order][iu])
    return np.array(eig), np.array(rows), (time.perf_counter() - start) / len(data)


def fit_ridge(Xtr, ytr, Xte):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-8, 3, 23)))
    model.fit(Xtr, ytr)
    return model.predict(Xte), {"alpha": float(model[-1].alpha_)}


def fit_kernel(Xtr, ytr, Xte, kernel: str, scale: bool, seed: int, cv_size: int = 2000):
    """Kernel ridge regression; ``alpha`` and ``gamma`` (relative to ``base``: 1 / the median
    squared distance for the Gaussian kernel on standardised features, 1 / the median L1
    distance for the Laplacian) by 3-fold CV on ``cv_size`` random training molecules (a fit is
    cubic in their number), then refitted on the whole training set."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler, FunctionTransformer

    rng = np.random.default_rng(seed)
    sample = Xtr[rng.choice(len(Xtr), min(len(Xtr), 500), replace=False)]
    if scale:
        sample = (sample - Xtr.mean(0)) / np.maximum(Xtr.std(0), 1e-12)
    if kernel == "rbf":
        d2 = ((sample[:, None] - sample[None]) ** 2).sum(-1)
        base = 1.0 / np.median(d2[d2 > 0])
    else:
        d1 = np.abs(sample[:, None] - sample[None]).sum(-1)
        base = 1.0 / np.median(d1[d1 > 0])
    step = StandardScaler() if scale else FunctionTransformer()
    mean = ytr.mean()
    search = GridSearchCV(make_pipeline(step, KernelRidge(kernel=kernel)),
                          {"kernelridge__alpha": [1e-13, 1e-11, 1e-9, 1e-7, 1e-5, 1e-3],
                           "kernelridge__gamma": list(base * 4.0 ** np.arange(-7, 2))},
                          cv=KFold(3, shuffle=True, random_state=seed),
                          scoring="neg_mean_absolute_error", n_jobs=1, refit=False)
    cv_rows = rng.choice(len(Xtr), min(len(Xtr), cv_size), replace=False)
    search.fit(Xtr[cv_rows], ytr[cv_rows] - mean)
    best = search.best_params_
    model = make_pipeline(step, KernelRidge(kernel=kernel, alpha=best["kernelridge__alpha"],
                                            gamma=best["kernelridge__gamma"]))
    model.fit(Xtr, ytr - mean)
    return model.predict(Xte) + mean, {"alpha": best["kernelridge__alpha"],
                                       "gamma/base": best["kernelridge__gamma"] / base}


def errors(pred, true) -> tuple[float, float]:
    return float(np.abs(pred - true).mean()), float(np.sqrt(((pred - true) ** 2).mean()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 training and 100 test molecules")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=int, default=32)
    parser.add_argument("--spacing", type=float, default=0.5, help="angstrom per voxel")
    parser.add_argument("--width", type=float, default=0.5, help="atom Gaussian width, angstrom")
    parser.add_argument("--J", type=int, default=2)
    parser.add_argument("--L", type=int, default=2)
    parser.add_argument("--sigma_0", type=float, default=1.0)
    parser.add_argument("--powers", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--figure", default=None, help="PNG of predicted against true energies")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test = 300, 100
    torch.set_num_threads(args.threads)

    from scatter.models import load_qm9

    t0 = time.perf_counter()
    qm9 = load_qm9()
    rng = np.random.default_rng(args.seed)
    rows = rng.permutation(len(qm9))[:args.n_train + args.n_test]
    data = qm9.subset(rows)
    y = data.atomization_energy()
    tr, te = np.arange(args.n_train), np.arange(args.n_train, args.n_train + args.n_test)
    print(f"# QM9: {len(qm9)} molecules read in {time.perf_counter() - t0:.0f} s; split {args.n_train} / "
          f"{args.n_test} (seed {args.seed}); target U0 atomization energy, kcal/mol "
          f"(train mean {y[tr].mean():.1f}, std {y[tr].std():.1f})", flush=True)

    X, t_scat = scattering_features(data, args)
    print(f"# scattering features: {X.shape[1]} per molecule, {1e3 * t_scat:.1f} ms per molecule "
          f"(3 densities on {args.grid}^3, J={args.J}, L={args.L}, threads={args.threads})", flush=True)
    eig, srt, t_cm = coulomb_matrices(data)
    results, predictions = [], {}
    for name, fit, seconds in [
            ("Coulomb matrix, sorted eigenvalues + Laplacian KRR", lambda: fit_kernel(eig[tr], y[tr], eig[te], "laplacian", False, args.seed), t_cm),
            ("Coulomb matrix, sorted rows + Laplacian KRR", lambda: fit_kernel(srt[tr], y[tr], srt[te], "laplacian", False, args.seed), t_cm),
            ("solid harmonic scattering + ridge", lambda: fit_ridge(X[tr], y[tr], X[te]), t_scat),
            ("solid harmonic scattering + Gaussian KRR", lambda: fit_kernel(X[tr], y[tr], X[te], "rbf", True, args.seed), t_scat)]:
        start = time.perf_counter()
        pred, params = fit()
        mae, rmse = errors(pred, y[te])
        predictions[name] = pred
        results.append((name, mae, rmse, 1e3 * seconds, time.perf_counter() - start, params))
        print(f"# {name}: MAE {mae:.2f}, RMSE {rmse:.2f} kcal/mol ({params}), fit {results[-1][4]:.0f} s", flush=True)

    print("\n| method | test MAE (kcal/mol) | test RMSE (kcal/mol) | features ms/molecule | fit + CV s | chosen |")
    print("|---|---:|---:|---:|---:|---|")
    for name, mae, rmse, ms, fit_s, params in results:
        chosen = ", ".join(f"{k}={v:.3g}" for k, v in params.items())
        print(f"| {name} | {mae:.2f} | {rmse:.2f} | {ms:.1f} | {fit_s:.0f} | {chosen} |")
    print(f"\n# total {time.perf_counter() - t0:.0f} s")

    if args.figure:
        from matplotlib.figure import Figure

        from scatter.demo import save_figure

        fig = Figure(figsize=(9, 4.2), layout="constrained")
        axes = fig.subplots(1, 2)
        # the better Coulomb-matrix baseline (by test MAE) beside scattering + Gaussian KRR
        coulomb = min((r for r in results if r[0].startswith("Coulomb")), key=lambda r: r[1])[0]
        for ax, name in zip(axes, [coulomb, "solid harmonic scattering + Gaussian KRR"]):
            pred = predictions[name]
            mae, rmse = errors(pred, y[te])
            ax.scatter(y[te], pred, s=3, alpha=0.5)
            lims = [y[te].min(), y[te].max()]
            ax.plot(lims, lims, "k--", lw=0.8)
            ax.set_title(f"{name}\nMAE {mae:.2f}, RMSE {rmse:.2f} kcal/mol", fontsize=9)
            ax.set_xlabel("true U0 atomization energy (kcal/mol)", fontsize=8)
            ax.set_ylabel("predicted (kcal/mol)", fontsize=8)
        fig.suptitle(f"QM9, {args.n_train} training / {args.n_test} test molecules")
        save_figure(fig, args.figure)
        print(f"# figure: {args.figure}")


if __name__ == "__main__":
    main()
