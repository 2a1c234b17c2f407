"""RotoTranslationScattering2D: exact rot90 invariance and covariance, stability under arbitrary
rotations, the angular bank, autograd, API and bad input."""
import numpy as np
import pytest
import torch

from scatter import RotoTranslationScattering2D, Scattering2D, ScatteringError, ScatteringShapeError, \
    ScatteringTypeError
from scatter._angular import angular_morlet, circulant, max_angular_scales
from scatter.rototranslation2d import crop_symmetric

VARIANTS = ("joint", "separable")


def rot(x, k=1):
    return torch.rot90(x, k, (-2, -1))


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def shifted_rows(S, shift):
    """Index ``perm`` with ``out[:, perm]`` the output whose angle axis ``theta1`` is shifted by
    ``shift`` (modulo L, or 2L on the joint paths' full circle)."""
    keys = S.meta()["key"]
    where = {key: i for i, key in enumerate(keys)}
    perm = []
    for key in keys:
        t = key[4]
        if t is None:
            perm.append(where[key])
            continue
        period = 2 * S.L if (S.variant == "joint" and key[3] is not None and key[1] is not None) else S.L
        perm.append(where[key[:4] + ((t + shift) % period,)])
    return perm


# ------------------------------------------------------------------ claim 1: exact invariance
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("J,L,K,size", [(2, 8, 1, 32), (2, 8, 2, 28), (3, 4, 1, 40), (1, 12, 2, 16)])
def test_rot90_invariance_global_float64(variant, J, L, K, size):
    S = RotoTranslationScattering2D(J, (size, size), L=L, K=K, variant=variant, average="global")
    x = torch.randn(3, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(size))
    y = S(x)
    assert y.shape == (3, S.output_size())
    for k in (1, 2, 3):
        assert rel(S(rot(x, k)), y) <= 1e-10
    # an arbitrary image is not invariant to a transpose-free flip (the test can fail)
    assert rel(S(torch.roll(x, 3, -1) * torch.linspace(0, 1, size, dtype=torch.float64)), y) > 1e-3


def test_rot90_invariance_needs_an_even_L():
    # a quarter turn is L/2 steps of pi/L: on the grid of angles when L is even (not only a
    # multiple of 4), off it when L is odd
    x = torch.randn(2, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for L in (6, 10):
        S = RotoTranslationScattering2D(2, (32, 32), L=L, average="global")
        assert rel(S(rot(x)), S(x)) <= 1e-10
    S = RotoTranslationScattering2D(2, (32, 32), L=5, average="global")
    assert rel(S(rot(x)), S(x)) > 1e-6
    assert rel(S(rot(x, 2)), S(x)) <= 1e-10      # a half turn maps every wavelet to its conjugate


# ------------------------------------------------------------------ claim 2: exact covariance
@pytest.mark.parametrize("variant", VARIANTS)
def test_rot90_shifts_angles_by_half_L(variant):
    L = 8
    S = RotoTranslationScattering2D(2, (32, 32), L=L, K=2, variant=variant, average="global",
                                    average_angles=False)
    x = torch.randn(2, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y, y_rot = S(x), S(rot(x))
    # torch.rot90 turns counter-clockwise in the (row, column) layout; Kymatio's angle index runs
    # clockwise, so the coefficient at angle t of the turned image is that at t + L/2 of x
    assert rel(y_rot, y[:, shifted_rows(S, L // 2)]) <= 1e-10
    assert rel(y_rot, y) > 1e-3
    if variant == "joint":    # on the full circle of 2L angles the direction matters
        assert rel(y_rot, y[:, shifted_rows(S, -L // 2)]) > 1e-4
    assert rel(S(rot(x, 2)), y[:, shifted_rows(S, L)]) <= 1e-10
    assert rel(S(rot(x, -1)), y[:, shifted_rows(S, -L // 2)]) <= 1e-10


# ------------------------------------------------- without the global average: the spatial maps
@pytest.mark.parametrize("variant", VARIANTS)
def test_local_maps_turn_with_a_rotation_about_the_origin(variant):
    S = RotoTranslationScattering2D(2, (32, 32), L=8, variant=variant)
    x = torch.randn(2, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    y = S(x)
    assert y.shape == (2, S.output_size(), 8, 8)

    def about_origin(z):       # the rotation about sample (0, 0) of the periodic grid
        return torch.roll(rot(z), 1, -2)

    assert rel(S(about_origin(x)), about_origin(y)) <= 1e-10
    # torch.rot90 turns about the centre, half a pixel off the 2**J-subsampled grid: not exact
    assert rel(S(rot(x)), about_origin(y)) > 1e-3
    assert rel(S(rot(x)), rot(y)) > 1e-3
    # without the angle average the channels are shifted, as with the global average
    S.average_angles = False
    y = S(x)
    assert rel(S(about_origin(x)), about_origin(y)[:, shifted_rows(S, 4)]) <= 1e-10


def test_crop_symmetric_keeps_the_bank_closed_under_quarter_turns():
    from scatter._design import crop_fourier
    from scatter.filters import morlet_2d
    psi = morlet_2d((32, 32), 3, 8).psi[16:24]             # j = 2
    family = np.concatenate([psi, np.roll(psi[:, ::-1, ::-1], 1, (-2, -1))])

    def turned(f):                                          # f(R w) on the unshifted DFT grid
        return np.roll(np.rot90(f, 1, (-2, -1)), 1, -2)

    def closed(c):                                          # every turned filter is in the family
        return max(np.abs(turned(f)[None] - c).max(axis=(-2, -1)).min() for f in c) / np.abs(c).max()

    assert closed(family) <= 1e-14
    for factor in (2, 4):
        assert closed(crop_symmetric(family, factor)) <= 1e-14
        assert closed(crop_fourier(family, factor)) > 1e-4    # a plain crop is not closed


# ------------------------------------------ claim 3: stability under arbitrary rotations (small)
def _disk_images(size):
    skimage = pytest.importorskip("skimage.data", reason="needs scikit-image's bundled images")
    from skimage.transform import resize
    images = [resize(getattr(skimage, name)().astype(float) if getattr(skimage, name)().ndim == 2
                     else getattr(skimage, name)().mean(-1), (size, size), anti_aliasing=True)
              for name in ("camera", "brick", "grass")]
    r = np.hypot(*np.meshgrid(np.arange(size) - (size - 1) / 2, np.arange(size) - (size - 1) / 2))
    disk = (r <= size / 2 - 2).astype(float)
    return np.stack([(im - im.mean()) / im.std() for im in images]), disk


def test_arbitrary_rotations_change_the_output_much_less_than_scattering2d():
    ndimage = pytest.importorskip("scipy.ndimage", reason="needs scipy for the rotations")
    size, J, L = 64, 3, 8
    images, disk = _disk_images(size)
    angles = [17.0, 45.0, 100.0, 222.0, 300.0]
    rotated = [np.stack([ndimage.rotate(im, a, reshape=False, order=3, mode="constant") for im in images]) * disk
               for a in angles]
    ours = RotoTranslationScattering2D(J, (size, size), L=L, average="global").double()
    theirs = Scattering2D(J, (size, size), L=L).double()

    def change(S, glob):
        out = [S(images * disk)] + [S(r) for r in rotated]
        out = [o.mean((-2, -1)) if glob else o for o in out]
        return np.mean([np.linalg.norm(o - out[0], axis=-1) / np.linalg.norm(out[0], axis=-1)
                        for o in out[1:]])

    ratio = change(ours, False) / change(theirs, True)
    assert ratio < 0.3


# -------------------------------------------------------------------------- the angular bank
def test_angular_wavelets():
    for L in (4, 8, 16):
        assert max_angular_scales(L) == int(np.log2(L)) - 1
        psi = angular_morlet(L, max_angular_scales(L))
        assert np.all(psi[:, 0] == 0)                     # zero mean: blind to the angular average
        assert np.abs(psi).max() == pytest.approx(1.0)
        # convolution along angles through the circulant matrices
        u = np.random.default_rng(L).standard_normal(L)
        C = circulant(psi)
        assert np.allclose(C @ u, np.fft.ifft(psi * np.fft.fft(u)))
    with pytest.raises(ValueError, match="K"):
        angular_morlet(8, 3)


# ---------------------------------------------------------------------------- dtypes, autograd
@pytest.mark.parametrize("variant", VARIANTS)
def test_float32_matches_float64_and_numpy_in_numpy_out(variant):
    S = RotoTranslationScattering2D(2, (16, 32), L=4, variant=variant)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 32))
    y64 = S(x)
    y32 = S(x.astype(np.float32))
    assert isinstance(y64, np.ndarray) and y64.dtype == np.float64 and y32.dtype == np.float32
    assert y64.shape == (2, 3, S.output_size(), 4, 8)
    assert np.abs(y32 - y64).max() <= 1e-5 * np.abs(y64).max()


@pytest.mark.parametrize("average", ("local", "global"))
def test_gradients(average):
    S = RotoTranslationScattering2D(1, (8, 8), L=4, K=1, average=average).double()
    x = torch.randn(1, 8, 8, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0))
    assert torch.autograd.gradcheck(lambda v: S(v), (x,), eps=1e-6, atol=1e-6)
    S2 = RotoTranslationScattering2D(2, (16, 16), L=8, variant="joint")
    x = torch.randn(2, 16, 16, requires_grad=True)
    S2(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_batch_chunks_give_the_same_output():
    x = torch.randn(5, 16, 16, dtype=torch.float64)
    a = RotoTranslationScattering2D(2, (16, 16), L=8)(x)
    b = RotoTranslationScattering2D(2, (16, 16), L=8, batch_size=2)(x)
    assert torch.equal(a, b) or rel(a, b) <= 1e-12
    threads = torch.get_num_threads()
    try:       # CPU inference on 2 threads: chunks on worker threads, the same numbers
        torch.set_num_threads(2)
        c = RotoTranslationScattering2D(2, (16, 16), L=8)(x)
    finally:
        torch.set_num_threads(threads)
    assert rel(c, a) <= 1e-12


# ------------------------------------------------------------------------ the CPU engine
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("average", ("local", "global"))
@pytest.mark.parametrize("J, shape, L, K", [(3, (32, 48), 8, None), (2, (16, 16), 6, 0), (3, (64, 64), 4, 1),
                                            (1, (8, 8), 8, 2)])
def test_cpu_engine_equals_the_plain_cascade(variant, average, J, shape, L, K):
    """CPU inference runs scatter.engine.roto2d; autograd, CUDA and torch.compile the plain
    cascade: both give the same coefficients, every row (angles not averaged)."""
    S = RotoTranslationScattering2D(J, shape, L=L, K=K, variant=variant, average=average, average_angles=False)
    gen = torch.Generator().manual_seed(1)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        x = torch.randn(5, *shape, dtype=dtype, generator=gen)
        fast = S(x)
        assert S._engines, "CPU inference should run the engine"
        plain = S._cascade(x, S._plain_filters(dtype))
        assert fast.shape == plain.shape == (5, S.output_size(), *S.output_shape)
        assert fast.dtype == dtype
        assert rel(fast, plain) <= tol
        S.batch_size = 2                  # chunks of 2, 2, 1: the same rows
        assert rel(S(x), plain) <= tol
        S.batch_size = None


def test_cpu_engine_is_not_used_under_autograd_and_frees_its_buffers(monkeypatch):
    import scatter.engine.roto2d as engine

    S = RotoTranslationScattering2D(2, (16, 16), L=4)
    x = torch.randn(2, 16, 16, requires_grad=True)
    monkeypatch.setattr(engine.CpuRotoEngine2D, "run", lambda *a, **k: pytest.fail("engine under autograd"))
    S(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    monkeypatch.undo()
    before = S(x.detach())
    S.release_workspace()
    assert torch.equal(S(x.detach()), before)


def test_joint_variant_without_angular_wavelets():
    """K=0: the joint variant keeps the angular mean and identity paths (the plain cascade used
    to run an FFT over an empty batch of angular maps)."""
    S = RotoTranslationScattering2D(2, (16, 16), L=4, K=0, average_angles=False)
    assert S.output_size() == 1 + 2 * 4 + (4 + 4 * 4)
    x = torch.randn(2, 16, 16, dtype=torch.float64, requires_grad=True)
    out = S(x)
    assert out.shape == (2, S.output_size(), 4, 4)
    assert rel(out.detach(), S(x.detach())) <= 1e-12


# ----------------------------------------------------------------------- out_type and meta
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("average_angles", (True, False))
def test_meta_and_list_output(variant, average_angles):
    J, L, K = 3, 8, 2
    S = RotoTranslationScattering2D(J, (32, 32), L=L, K=K, variant=variant, average_angles=average_angles)
    meta = S.meta()
    C = S.output_size()
    assert all(len(meta[f]) == C for f in ("order", "j", "theta2", "k", "theta1", "key"))
    pairs = J * (J - 1) // 2
    if average_angles:
        expected = 1 + J + J * K + pairs * ((1 + L * (1 + K)) if variant == "joint" else L * (1 + K))
        assert np.all(np.isnan(meta["theta1"]))
    else:
        expected = 1 + J * L + J * K * L + pairs * ((L + L * L + L * K * 2 * L) if variant == "joint"
                                                    else L * (1 + K) * L)
    assert C == expected
    assert list(np.unique(meta["order"])) == [0, 1, 2]
    assert np.all(meta["j"][meta["order"] == 2, 0] < np.nan_to_num(meta["j"][meta["order"] == 2, 1], nan=J))
    x = torch.randn(2, 32, 32)
    arr = S(x)
    S.out_type = "list"
    out = S(x)
    assert len(out) == C
    for c in (0, C // 2, C - 1):
        assert torch.equal(out[c]["coef"], arr[:, c])
        assert out[c]["order"] == meta["order"][c]


def test_max_order_1_and_no_angular_wavelets():
    S = RotoTranslationScattering2D(2, (16, 16), L=8, max_order=1)
    assert S.output_size() == 3
    S = RotoTranslationScattering2D(2, (16, 16), L=8, K=0, variant="separable")
    assert S.output_size() == 1 + 2 + 8
    assert S(torch.randn(1, 16, 16)).shape == (1, 11, 4, 4)


def test_empty_batch_and_reassignment():
    S = RotoTranslationScattering2D(2, (16, 16), L=4)
    assert S(torch.zeros(0, 16, 16)).shape == (0, S.output_size(), 4, 4)
    S.average = "global"
    assert S(torch.zeros(0, 16, 16)).shape == (0, S.output_size())
    with pytest.raises(ValueError, match="variant"):
        S.variant = "both"
    assert S.variant == "joint"


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs,error,match", [
    ({"shape": (30, 32)}, ScatteringShapeError, "multiples of 2\\*\\*J"),
    ({"J": 0}, ValueError, "J"),
    ({"L": 1}, ValueError, "L"),
    ({"L": 8.0}, TypeError, "L"),
    ({"K": 3}, ValueError, "K must be <= 2"),
    ({"variant": "sifre"}, ValueError, "variant.*joint.*separable"),
    ({"average": "none"}, ValueError, "average.*local.*global"),
    ({"average_angles": "yes"}, TypeError, "average_angles"),
    ({"out_type": "dict"}, ScatteringError, "out_type"),
    ({"max_order": 3}, ValueError, "max_order"),
    ({"batch_size": 0}, ValueError, "batch_size"),
])
def test_bad_parameters(kwargs, error, match):
    params = {"J": 2, "shape": (32, 32), **kwargs}
    with pytest.raises(error, match=match):
        RotoTranslationScattering2D(**params)


def test_bad_input():
    S = RotoTranslationScattering2D(2, (16, 16), L=4)
    with pytest.raises(ScatteringShapeError, match="spatial shape"):
        S(torch.zeros(2, 16, 17))
    with pytest.raises(ScatteringShapeError, match="at least 2"):
        S(torch.zeros(16))
    with pytest.raises(ScatteringTypeError, match="float32 or float64"):
        S(torch.zeros(1, 16, 16, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN or inf"):
        S(torch.full((1, 16, 16), float("nan")))
    with pytest.raises(TypeError, match="torch.Tensor or a numpy.ndarray"):
        S([[0.0] * 16] * 16)


# ------------------------------------------------------- the cascade against Scattering2D's
def test_first_layer_and_separable_second_layer_match_scattering2d_on_a_periodic_grid():
    """Scattering2D with pre_pad=True computes on the periodic grid it is given: its S0, S1 and its
    S2 with j1 = 0 (whose wavelets need no crop) are our channels before the angle average,
    S2[j1, t, j2, t'] being the separable path with relative angle t2 = t' - t (mod L), on
    Scattering2D's output window (one coarse sample less on every side)."""
    J, L = 2, 8
    x = torch.randn(2, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    theirs = Scattering2D(J, (24, 24), L=L, pre_pad=True)
    assert theirs.padded_shape == (32, 32)
    ref = theirs(x)
    ours = RotoTranslationScattering2D(J, (32, 32), L=L, variant="separable", average_angles=False)
    out = ours(x)[..., 1:-1, 1:-1]
    keys = {key: i for i, key in enumerate(ours.meta()["key"])}
    for c, key in enumerate(theirs.meta()["key"]):
        if len(key) == 0:
            i = keys[(None, None, None, None, None)]
        elif len(key) == 1:
            (j1, t), = key
            i = keys[(j1, None, None, None, t)]
        else:
            (j1, t), (j2, t_) = key
            if j1 > 0:
                continue
            i = keys[(j1, j2, (t_ - t) % L, None, t)]
        assert rel(out[:, i], ref[:, c]) <= 1e-12, key
