"""Every public figure function, drawn at its default size and checked for what a test can
check: it draws without layout warnings, no two pieces of text overlap, every image has a colour
bar, the size stays readable (at most 20 inches a side, at most 4:1), and nothing is left open in
``pyplot``. (Looking at the PNGs is still a person's job: ``make demo`` and ``make docs`` write
them.)"""
import io
import itertools
import warnings

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from scatter import filters, models  # noqa: E402

SHAPE = (64, 64)


def _banks():
    return {
        "morlet_2d": lambda: filters.morlet_2d(SHAPE, J=3, L=8).plot(),
        "morlet_1d": lambda: filters.morlet_1d(512, J=5, Q=8).plot(),
        "gabor_2d": lambda: filters.gabor_2d(SHAPE, frequencies=(0.25, 0.125), L=8,
                                             remove_dc=True).plot(),
        "log_gabor_2d": lambda: filters.log_gabor_2d(SHAPE).plot(),
        "dwt": lambda: filters.dwt_filter_bank("db4", SHAPE, level=3).plot(),
        "solid_harmonic_3d": lambda: filters.solid_harmonic_3d((24, 24, 24), J=2, L=2).plot(),
        "curvelet": lambda: filters.curvelet_2d(SHAPE, scales=3, angles=16).plot(),
        "fourier only": lambda: filters.plot_bank(filters.morlet_2d(SHAPE, J=2, L=4),
                                                  spatial=False),
        "littlewood_paley": lambda: filters.plot_littlewood_paley(
            {"Morlet": filters.morlet_2d(SHAPE, J=3, L=8),
             "log-Gabor": filters.log_gabor_2d(SHAPE),
             "curvelet": filters.curvelet_2d(SHAPE, scales=3, angles=16)}),
        "comparison": _comparison,
        "learned wavelets": _learned,
        "dictionary": lambda: models.plot_dictionary(
            np.random.default_rng(0).standard_normal((36, 64)), r2=np.linspace(0, 1, 36),
            title="36 atoms of 8x8"),
    }


def _learned():
    import copy

    import torch

    from scatter import ParametricMorlet2D, plot_learned_wavelets

    bank = ParametricMorlet2D((40, 40), 2, 8)
    start = copy.deepcopy(bank)
    with torch.no_grad():
        bank.xi.mul_(1.1)
        bank.angle.add_(0.1)
    return plot_learned_wavelets(start, bank)


def _comparison():
    rng = np.random.default_rng(0)
    learned = filters.gabor_model((7, 7), x0=3, y0=3, theta=rng.uniform(0, np.pi, 12),
                                  frequency=rng.uniform(0.1, 0.35, 12), phase=0.0,
                                  sigma_x=1.5, sigma_y=1.5, amplitude=1.0)
    return models.plot_comparison(models.compare_filters(learned, filters.morlet_2d((32, 32), J=3,
                                                                                    L=8)))


def _texts(fig):
    """The text a reader sees: titles, axis labels, the tick labels drawn (in view), texts and
    legends of every axes; titles and labels of the figure and its subfigures."""
    out = []
    for ax in fig.get_axes():
        out += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            out += [tick.label1 for tick in axis.get_major_ticks()
                    if low - 1e-9 <= tick.get_loc() <= high + 1e-9]
        out += list(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            out += list(legend.get_texts())
    for sub in [fig, *fig.subfigs, *(s for f in fig.subfigs for s in f.subfigs)]:
        out += [t for t in (sub._suptitle, sub._supxlabel, sub._supylabel) if t is not None]
    return [t for t in out if t.get_visible() and t.get_text().strip()]


def _overlaps(fig):
    canvas = FigureCanvasAgg(fig) if fig.canvas is None or not hasattr(fig.canvas, "get_renderer") \
        else fig.canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [(t, t.get_window_extent(renderer)) for t in _texts(fig)]
    found = []
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        if a.axes is not None and a.axes is b.axes and _is_tick(a) and _is_tick(b):
            continue
        if box_a.overlaps(box_b):
            # a few pixels of shared padding are not an overlap a reader sees
            overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if overlap_w > 2 and overlap_h > 2:
                found.append((a.get_text(), b.get_text()))
    return found


def _is_tick(text):
    return any(text in axis.get_ticklabels(which="both")
               for axis in (text.axes.xaxis, text.axes.yaxis))


@pytest.fixture(autouse=True)
def nothing_left_in_pyplot():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


@pytest.mark.parametrize("name", list(_banks()))
def test_figure_reads_well(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # layout engines warn when they give up
        fig = _banks()[name]()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=60)
    width, height = fig.get_size_inches()
    assert width <= 20 and height <= 20, f"{name}: {width:.1f} x {height:.1f} inches"
    assert max(width / height, height / width) <= 4, f"{name}: {width:.1f} x {height:.1f} inches"
    assert fig.get_suptitle() if hasattr(fig, "get_suptitle") else fig._suptitle is not None
    images = [ax for ax in fig.get_axes() if any(isinstance(a, AxesImage) for a in ax.get_images())]
    colour_bars = [ax for ax in fig.get_axes() if ax.get_label() == "<colorbar>"]
    assert not images or colour_bars, f"{name}: images without a colour bar"
    assert _overlaps(fig) == [], f"{name}: overlapping text"


def test_the_overlap_check_finds_overlapping_text():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.set_title("a long title that runs")
    ax.text(0.5, 1.02, "over the title", transform=ax.transAxes, ha="center")
    assert _overlaps(fig)
    fig = Figure(figsize=(3, 2), layout="constrained")      # neighbours' long titles collide
    for ax in fig.subplots(1, 3):
        ax.set_title("$j=0$, $\\theta=0$, diagonal")
    assert _overlaps(fig)
