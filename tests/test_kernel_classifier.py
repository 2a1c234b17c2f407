"""KernelClassifier: scikit-learn's estimator checks, agreement with scikit-learn's KernelRidge
(exact) and Nystroem + Ridge (same centres), the FALKON solve, float32/float64, bad input."""
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from scatter.models import KernelClassifier, select_kernel_params
from scatter.models.kernels import conjugate_gradient, kernel_block, kernel_matmul, median_gamma

SK_KERNEL = {"gaussian": "rbf", "laplacian": "laplacian", "linear": "linear"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _pm1(y, classes):
    """One-vs-all +-1 targets, as KernelClassifier regresses on."""
    Y = -np.ones((len(y), len(classes)))
    Y[np.arange(len(y)), np.searchsorted(classes, y)] = 1.0
    return Y


# --------------------------------------------------------------------- scikit-learn's checks
def _estimator_checks(estimator, expected_failed=None):
    from sklearn.utils.estimator_checks import check_estimator
    results = check_estimator(estimator, on_fail=None, expected_failed_checks=expected_failed)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    return results


@pytest.mark.parametrize("params", [
    dict(dtype="float64"),                                       # exact solver
    dict(dtype="float64", n_centers=5, random_state=0),          # Nystrom + CG
    dict(dtype="float64", kernel="laplacian", n_centers=7, random_state=0),
    dict(dtype="float64", kernel="linear"),
], ids=["exact", "nystrom", "laplacian-nystrom", "linear"])
def test_passes_sklearn_estimator_checks(params):
    _estimator_checks(KernelClassifier(**params))


def test_default_dtype_is_float64(digits):
    """scikit-learn's default precision: float32 moved an ill-conditioned MNIST solution."""
    X, y = digits
    clf = KernelClassifier(n_centers=50, random_state=0).fit(X[:200], y[:200])
    assert clf.dtype == "float64" and clf.coef_.dtype == torch.float64


def test_float32_passes_sklearn_estimator_checks_but_subset_invariance():
    # check_methods_subset_invariance compares decision_function on a batch and on its rows one
    # by one at rtol = atol = 1e-7, below float32's rounding: BLAS blocks a (60, M) and a (1, M)
    # product differently. The check cannot apply to float32 arithmetic; it passes in float64.
    results = _estimator_checks(KernelClassifier(dtype="float32"), expected_failed={
        "check_methods_subset_invariance": "float32 BLAS rounding depends on the batch size"})
    status = {r["check_name"]: r["status"] for r in results}
    assert status["check_methods_subset_invariance"] == "xfail"


# ---------------------------------------------------------------- agreement with scikit-learn
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "linear"])
def test_exact_equals_sklearn_kernel_ridge(digits, kernel):
    from sklearn.kernel_ridge import KernelRidge
    X, y = digits
    Xtr, ytr, Xte = X[:600], y[:600], X[1500:]
    for dtype, tol in (("float64", 1e-9), ("float32", 2e-4)):
        clf = KernelClassifier(kernel=kernel, gamma=0.04, alpha=0.3, solver="exact", dtype=dtype)
        clf.fit(Xtr, ytr)
        ref = KernelRidge(alpha=0.3, kernel=SK_KERNEL[kernel], gamma=0.04).fit(Xtr, _pm1(ytr, clf.classes_))
        expected = ref.predict(Xte)
        scores = clf.decision_function(Xte)
        assert clf.solver_ == ("primal" if kernel == "linear" else "exact")
        np.testing.assert_allclose(scores, expected, atol=tol * np.abs(expected).max(), rtol=0)
        np.testing.assert_array_equal(clf.predict(Xte), clf.classes_[expected.argmax(1)])


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
def test_nystrom_equals_sklearn_nystroem_ridge(digits, kernel):
    """Same centres (those scikit-learn's Nystroem drew), same alpha -> the same ridge solution,
    here reached by FALKON's preconditioned CG instead of a pseudo-inverse and Cholesky."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import Ridge
    X, y = digits
    Xtr, ytr, Xte = X[:1000], y[:1000], X[1000:]
    nys = Nystroem(kernel=SK_KERNEL[kernel], gamma=0.05, n_components=150, random_state=0).fit(Xtr)
    ridge = Ridge(alpha=0.1, fit_intercept=False).fit(nys.transform(Xtr), _pm1(ytr, np.unique(ytr)))
    expected = ridge.predict(nys.transform(Xte))
    for dtype, tol in (("float64", 1e-7), ("float32", 1e-2)):
        clf = KernelClassifier(kernel=kernel, gamma=0.05, alpha=0.1, centers=Xtr[nys.component_indices_],
                               dtype=dtype, tol=1e-10, max_iter=300).fit(Xtr, ytr)
        assert clf.solver_ == "nystrom" and clf.centers_.shape == (150, 64)
        assert clf.decision_function(Xte).dtype == np.float64
        np.testing.assert_allclose(clf.decision_function(Xte), expected,
                                   atol=tol * np.abs(expected).max(), rtol=0)
        agree = np.mean(clf.predict(Xte) == expected.argmax(1))
        assert agree >= (1.0 if dtype == "float64" else 0.995)


def test_binary_matches_ridge_classifier_conventions(digits):
    """Two classes: one +-1 column for classes_[1], decision_function of shape (n,)."""
    from sklearn.kernel_ridge import KernelRidge
    X, y = digits
    keep = np.isin(y, (3, 8))
    Xb, yb = X[keep], np.where(y[keep] == 3, "three", "eight")
    clf = KernelClassifier(gamma=0.05, alpha=0.5, dtype="float64").fit(Xb[:200], yb[:200])
    scores = clf.decision_function(Xb[200:])
    expected = KernelRidge(alpha=0.5, kernel="rbf", gamma=0.05).fit(
        Xb[:200], np.where(yb[:200] == clf.classes_[1], 1.0, -1.0)).predict(Xb[200:])
    assert scores.shape == (len(Xb) - 200,)
    np.testing.assert_allclose(scores, expected, atol=1e-9)
    np.testing.assert_array_equal(clf.predict(Xb[200:]), np.where(expected > 0, clf.classes_[1], clf.classes_[0]))


# ------------------------------------------------------------------------ the FALKON solve
def test_nystrom_with_all_points_as_centres_is_exact(digits):
    """With every training point a centre, (K^2 + alpha K) b = K Y has the exact solution's b."""
    X, y = digits
    Xtr, ytr = X[:300], y[:300]
    exact = KernelClassifier(gamma=0.05, alpha=1.0, solver="exact", dtype="float64").fit(Xtr, ytr)
    nys = KernelClassifier(gamma=0.05, alpha=1.0, solver="nystrom", n_centers=300, dtype="float64",
                           tol=1e-12, max_iter=500).fit(Xtr, ytr)
    np.testing.assert_allclose(nys.decision_function(X[1000:]), exact.decision_function(X[1000:]), atol=1e-6)


def test_preconditioner_makes_cg_converge_fast(digits):
    """FALKON's point: a few tens of iterations to a 1e-6 residual on an ill-conditioned system."""
    X, y = digits
    clf = KernelClassifier(n_centers=400, alpha=1e-3, dtype="float64", tol=1e-6, max_iter=200,
                           random_state=0).fit(X[:1500], y[:1500])
    assert clf.residual_ <= 1e-6 and clf.n_iter_ <= 60
    assert clf.score(X[1500:], y[1500:]) > 0.95


def test_kernel_matrix_not_kept_gives_the_same_solution(digits):
    """max_memory below n M s: K_nM is recomputed block by block at every iteration."""
    X, y = digits
    kept = KernelClassifier(n_centers=200, random_state=1, dtype="float64", tol=1e-10, max_iter=300,
                            block_size=128).fit(X[:1200], y[:1200])
    streamed = clone(kept).set_params(max_memory=1000.0).fit(X[:1200], y[:1200])
    np.testing.assert_allclose(streamed.decision_function(X[1200:]), kept.decision_function(X[1200:]),
                               atol=1e-8)


def test_conjugate_gradient_solves_spd_systems():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 40))
    H = torch.tensor(A @ A.T + 40 * np.eye(40))
    b = torch.tensor(rng.standard_normal((40, 3)))
    x, n_iter, res = conjugate_gradient(lambda v: H @ v, b, max_iter=100, tol=1e-12)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(H.numpy(), b.numpy()), atol=1e-10)
    assert n_iter <= 40 and float(res.max()) <= 1e-12


def test_kernel_blocks_equal_sklearn_pairwise():
    from sklearn.metrics.pairwise import laplacian_kernel, rbf_kernel
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((50, 7)), rng.standard_normal((30, 7))
    Xt, Zt = torch.tensor(X), torch.tensor(Z)
    np.testing.assert_allclose(kernel_block(Xt, Zt, "gaussian", 0.3).numpy(), rbf_kernel(X, Z, gamma=0.3), atol=1e-13)
    np.testing.assert_allclose(kernel_block(Xt, Zt, "laplacian", 0.3).numpy(), laplacian_kernel(X, Z, gamma=0.3),
                               atol=1e-13)
    V = torch.tensor(rng.standard_normal((30, 4)))
    np.testing.assert_allclose(kernel_matmul(Xt, Zt, V, "gaussian", 0.3, block_size=7).numpy(),
                               rbf_kernel(X, Z, gamma=0.3) @ V.numpy(), atol=1e-12)


def test_median_heuristic(digits):
    X, _ = digits
    clf = KernelClassifier(n_centers=100, random_state=0).fit(X[:500], digits[1][:500])
    d2 = ((X[:500, None, :] - X[None, :500, :]) ** 2).sum(-1)[np.triu_indices(500, 1)]
    assert clf.gamma_ == pytest.approx(1 / np.median(d2), rel=1e-5)
    scaled = clone(clf).set_params(gamma_scale=3.0).fit(X[:500], digits[1][:500])
    assert scaled.gamma_ == pytest.approx(3 * clf.gamma_)
    assert median_gamma(torch.zeros(5, 3), "gaussian") == 1.0  # every distance zero


def test_exact_factorises_in_float32_when_float64_does_not_fit(digits):
    """max_memory between 4 n^2 and 8 n^2 bytes: K is factorised in float32 (half the memory) and
    refined with float64 residuals to ``tol``: KernelRidge's solution, in float64 to 1e-9."""
    from sklearn.kernel_ridge import KernelRidge
    X, y = digits
    n = 600
    Xtr, ytr, Xte = X[:n], y[:n], X[1500:]
    for dtype, tol, atol in (("float32", 1e-6, 2e-4), ("float64", 1e-13, 1e-9)):
        clf = KernelClassifier(gamma=0.04, alpha=0.3, solver="exact", dtype=dtype, tol=tol,
                               max_memory=6.0 * n * n).fit(Xtr, ytr)
        ref = KernelRidge(alpha=0.3, kernel="rbf", gamma=0.04).fit(Xtr, _pm1(ytr, clf.classes_)).predict(Xte)
        assert clf.solver_ == "exact" and 2 <= clf.n_iter_ <= 6 and clf.residual_ <= tol
        assert clf.coef_.dtype == getattr(torch, dtype)
        np.testing.assert_allclose(clf.decision_function(Xte), ref, atol=atol * np.abs(ref).max(), rtol=0)
        # with room for float64 the scores change by rounding only: the float32 path was the one taken
        f64 = clone(clf).set_params(max_memory=8.0 * n * n).fit(Xtr, ytr)
        assert f64.n_iter_ == 1 and f64.residual_ == 0
        assert not np.array_equal(f64.decision_function(Xte), clf.decision_function(Xte))
    big = np.arange(60000, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    with pytest.raises(ValueError, match=r"28\.80 GB in float64, 14\.40 GB in float32\) > max_memory"):
        KernelClassifier(solver="exact", max_memory=1e9).fit(big, np.arange(60000) % 2)


def test_float32_refinement_that_stalls_warns(digits):
    """A ridge too small for a float32 factorisation: the refinement stalls and says to raise
    alpha (or max_memory), instead of returning a silently inaccurate solution."""
    from sklearn.exceptions import ConvergenceWarning
    X, y = digits
    n = 600
    with pytest.warns(ConvergenceWarning, match="increase alpha or max_memory"):
        clf = KernelClassifier(gamma=0.005, alpha=1e-9, solver="exact", dtype="float64", tol=1e-12,
                               max_memory=6.0 * n * n).fit(X[:n], y[:n])
    assert clf.residual_ > 1e-6
    with pytest.raises(ValueError, match=r"not positive definite in torch.float32.*increase alpha, "
                                         r"or max_memory to 2\.88e\+06 bytes"):
        clone(clf).set_params(gamma=0.002).fit(X[:n], y[:n])


# ------------------------------------------------------------------ dtypes, devices, API
def test_float32_and_float64_agree_and_score(digits):
    X, y = digits
    scores, labels = {}, {}
    for dtype in ("float32", "float64"):
        clf = KernelClassifier(n_centers=500, random_state=0, dtype=dtype).fit(X[:1400], y[:1400])
        assert clf.coef_.dtype == getattr(torch, dtype) and clf.centers_.dtype == getattr(torch, dtype)
        scores[dtype], labels[dtype] = clf.decision_function(X[1400:]), clf.predict(X[1400:])
        assert clf.score(X[1400:], y[1400:]) > 0.96
    # the default alpha (1e-6 n) leaves an ill-conditioned system: float32 rounding moves scores
    # by up to ~0.5 %, and a handful of near-ties may flip
    np.testing.assert_allclose(scores["float32"], scores["float64"], atol=1e-2 * np.abs(scores["float64"]).max())
    assert np.mean(labels["float32"] == labels["float64"]) >= 0.995


def test_pickle_clone_and_params(digits):
    X, y = digits
    clf = KernelClassifier(kernel="laplacian", n_centers=100, random_state=0).fit(X[:400], y[:400])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X[400:]), clf.predict(X[400:]))
    assert clone(clf).get_params() == clf.get_params()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu(digits):
    X, y = digits
    cpu = KernelClassifier(n_centers=300, random_state=0, dtype="float64").fit(X[:1200], y[:1200])
    gpu = clone(cpu).set_params(device="cuda").fit(X[:1200], y[:1200])
    np.testing.assert_allclose(gpu.decision_function(X[1200:]), cpu.decision_function(X[1200:]), atol=1e-8)


def test_select_kernel_params_uses_training_data_only(digits):
    X, y = digits
    best, results = select_kernel_params(KernelClassifier(n_centers=300, random_state=0), X[:800], y[:800],
                                         {"gamma_scale": [0.01, 1.0], "alpha": [1e-3]})
    assert [r["params"]["gamma_scale"] for r in results] == [0.01, 1.0]
    assert results[1]["validation_accuracy"] > results[0]["validation_accuracy"]  # 0.01: far too wide
    assert best.gamma_scale == 1.0 and best.n_features_in_ == 64
    assert best.score(X[800:], y[800:]) > 0.95


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("params,match", [
    (dict(kernel="poly"), "kernel must be one of"),
    (dict(solver="svd"), "solver must be one of"),
    (dict(dtype="float16"), "dtype must be one of"),
    (dict(gamma=0.0), "gamma must be > 0"),
    (dict(gamma_scale=-1.0), "gamma_scale must be > 0"),
    (dict(alpha=-1.0), "alpha must be >= 0"),
    (dict(alpha=float("nan")), "alpha must be finite"),
    (dict(n_centers=0), "n_centers must be >= 1"),
    (dict(max_iter=0), "max_iter must be >= 1"),
    (dict(block_size=0), "block_size must be >= 1"),
    (dict(solver="exact", max_memory=1000.0), "solver='exact' needs"),
    (dict(centers=np.zeros((4, 3))), r"centers must have shape \(M, 64\)"),
    (dict(centers=np.full((4, 64), np.nan)), "centers must hold finite"),
])
def test_bad_parameters(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        KernelClassifier(**params).fit(X[:100], y[:100])


def test_bad_parameter_types(digits):
    X, y = digits
    with pytest.raises(TypeError, match="n_centers must be an integer"):
        KernelClassifier(n_centers=10.5).fit(X[:100], y[:100])


@pytest.mark.parametrize("X,y,error,match", [
    (np.full((10, 3), np.nan), np.arange(10) % 2, ValueError, "NaN"),
    (np.full((10, 3), np.inf), np.arange(10) % 2, ValueError, "infinity"),
    (np.zeros((0, 3)), np.zeros(0), ValueError, "0 sample"),
    (np.zeros((10, 3)), np.zeros(10), ValueError, "at least 2 classes"),
    (np.zeros((10, 3)), np.linspace(0, 1, 10), ValueError, "Unknown label type"),
    (np.zeros(10), np.arange(10) % 2, ValueError, "2D array"),
])
def test_bad_data(X, y, error, match):
    with pytest.raises(error, match=match):
        KernelClassifier().fit(X, y)


def test_predict_checks(digits):
    X, y = digits
    clf = KernelClassifier(n_centers=50, random_state=0)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        clf.predict(X[:3])
    clf.fit(X[:200], y[:200])
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:3, :10])


def test_select_kernel_params_bad_input(digits):
    X, y = digits
    with pytest.raises(TypeError, match="estimator must be a KernelClassifier"):
        select_kernel_params(object(), X, y, {"alpha": [1.0]})
    with pytest.raises(ValueError, match="validation_fraction"):
        select_kernel_params(KernelClassifier(), X, y, {"alpha": [1.0]}, validation_fraction=1.5)


# ------------------------------------------------------------------ benchmarks/kernels.py
@pytest.mark.slow
def test_benchmark_quick_run(shared_data, tmp_path):
    """``benchmarks/kernels.py --quick`` on 2,000 / 500 MNIST images: every row is produced and
    scikit-learn's Nystroem + RidgeClassifier, at the same centres and ridge, predicts as we do."""
    import re
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "kernels.py"), "--quick", "--threads", "1",
                           "--data", str(shared_data), "--cache", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if re.match(r"\| (pixels|scattering)", line)]
    assert len(rows) == 5, proc.stdout
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert 0 <= float(cells[4]) < 30  # test error in %, on 500 images
        if cells[1] == "gaussian":
            assert float(cells[14].rstrip(" %")) >= 99.0  # same predictions as scikit-learn
    assert not list(tmp_path.iterdir())  # subsets are never cached


@pytest.mark.slow
def test_benchmark_quick_exact_run(shared_data, tmp_path):
    """``--exact ROW``: that Gaussian row is solved on all training points, without scikit-learn;
    the other Gaussian row keeps its Nystrom centres and scikit-learn beside it."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "kernels.py"), "--quick", "--exact",
                           "pixels-gaussian", "--threads", "1", "--rows", "pixels-gaussian",
                           "scattering-J=2-gaussian", "--data", str(shared_data), "--cache", str(tmp_path)],
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in proc.stdout.splitlines() if line.startswith(("| pixels", "| scattering"))}
    assert set(rows) == {"pixels", "scattering J=2"}, proc.stdout
    cells = rows["pixels"]
    assert cells[2] == "all 2000 (exact)" and 0 <= float(cells[4]) < 30 and cells[9] == "-"
    cells = rows["scattering J=2"]
    assert cells[2] == "300" and 0 <= float(cells[9]) < 30 and cells[14].endswith("%")


def test_benchmark_missing_data(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "kernels.py"), "--quick", "--data",
                           str(tmp_path)], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "dataset folder not found" in proc.stderr


def test_float32_nystrom_with_a_wide_kernel_and_small_ridge():
    """A wide kernel (an ill-conditioned K_MM) with alpha = 1e-6 n: float32 kernel values with
    float64 accumulation converge and predict as float64."""
    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    fits = {dt: KernelClassifier(n_centers=1000, gamma_scale=0.05, alpha=1e-6 * 1400, random_state=0,
                                 max_iter=30, dtype=dt).fit(X[:1400], y[:1400]) for dt in ("float32", "float64")}
    assert fits["float32"].residual_ < 1e-5
    agree = np.mean(fits["float32"].predict(X[1400:]) == fits["float64"].predict(X[1400:]))
    assert agree >= 0.99 and fits["float32"].score(X[1400:], y[1400:]) > 0.94


def test_float32_nystrom_warns_below_the_ridge_floor(digits):
    """alpha < 1e-7 n in float32 (Nystrom) warns and names both remedies; float64 and the
    floor itself do not."""
    import warnings
    X, y = digits
    n = 600
    with pytest.warns(UserWarning, match=r"below 1e-07 n_samples.*dtype='float64' or a larger alpha"):
        KernelClassifier(n_centers=100, alpha=1e-8 * n, random_state=0, dtype="float32").fit(X[:n], y[:n])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KernelClassifier(n_centers=100, alpha=1e-8 * n, random_state=0).fit(X[:n], y[:n])  # float64
        KernelClassifier(n_centers=100, alpha=1e-7 * n, random_state=0, dtype="float32").fit(X[:n], y[:n])


def test_exact_solve_paths_agree(digits, monkeypatch):
    """The exact solver's CPU path (SciPy's LAPACK in K's own memory) and the blocked one (taken
    for matrices too large for 32-bit LAPACK indices, and on GPUs) give the same coefficients,
    in float64 and refined from float32."""
    from scatter.models import _blocked_cholesky as bc
    from scatter.models import kernel_classifier as kc
    X, y = digits
    monkeypatch.setattr(bc, "BLOCK", 96)  # several blocks, the last one partial
    limits = (kc.LAPACK_LP64_LIMIT, 0)
    for memory in (8.0 * 500 ** 2, 6.0 * 500 ** 2):
        fits = {}
        for limit in limits:
            monkeypatch.setattr(kc, "LAPACK_LP64_LIMIT", limit)
            fits[limit] = KernelClassifier(gamma=0.04, alpha=0.3, solver="exact", dtype="float64", tol=1e-13,
                                           max_memory=memory).fit(X[:500], y[:500])
        a, b = (f.coef_.numpy() for f in fits.values())
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n, block", [(1, 4), (7, 3), (300, 64), (257, 256), (256, 256)])
def test_blocked_cholesky_matches_torch(n, block, dtype):
    """The in-place blocked factor equals torch's Cholesky, and its solve solves."""
    from scatter.models._blocked_cholesky import cholesky_lower_, cholesky_solve_lower
    g = torch.Generator().manual_seed(n)
    A = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = A @ A.T + n * torch.eye(n, dtype=torch.float64)
    R = torch.randn(n, 3, generator=g, dtype=torch.float64)
    K = A.to(dtype).clone()
    assert cholesky_lower_(K, block) == 0
    ref = torch.linalg.cholesky(A.to(dtype))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(torch.tril(K), ref, rtol=0, atol=tol * float(ref.abs().max()))
    Xs = cholesky_solve_lower(K, R, block)
    assert Xs.dtype == dtype
    assert float((A @ Xs.double() - R).norm() / R.norm()) < (1e-13 if dtype == torch.float64 else 1e-5)
    # the factor read through a transposed (Fortran-ordered) view solves the same
    torch.testing.assert_close(cholesky_solve_lower(torch.tril(K).T.contiguous().T, R, block), Xs)


def test_blocked_cholesky_reports_the_first_bad_pivot():
    from scatter.models._blocked_cholesky import cholesky_lower_
    M = torch.eye(6, dtype=torch.float64)
    M[3, 3] = -1.0
    assert cholesky_lower_(M.clone(), 2) == 4 and cholesky_lower_(M.clone(), 4) == 4
    assert cholesky_lower_(-torch.eye(3), 2) == 1
    with pytest.raises(ValueError, match="contiguous square"):
        cholesky_lower_(torch.eye(4)[:, :3])


def test_blocked_cholesky_adds_no_second_matrix():
    """Factorising a 4000 x 4000 float64 matrix (128 MB) in place, in a fresh process, grows the
    peak resident set by far less than a copy (torch.linalg.cholesky_ex(out=K) adds a whole one)."""
    import subprocess
    import sys
    script = """
import resource, torch
from scatter.models._blocked_cholesky import cholesky_lower_
torch.set_num_threads(1)
n = 4000
X = torch.randn(n, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
K = torch.cdist(X, X).pow_(2).mul_(-1 / 32).exp_()
K.diagonal().add_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert cholesky_lower_(K, 512) == 0
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the diagonal block and the panel's temporary are 8 (512^2 + 3488 * 512) = 16 MB
    assert int(proc.stdout.split()[-1]) < 48e6
