"""scatter.demo: banks found or skipped, frame-bound table, PNGs written atomically."""
import os

import pytest

from scatter import demo

PNG = b"\x89PNG\r\n\x1a\n"

SMALL = (
    demo.BankRecipe("morlet_2d", ("morlet_2d",), lambda f, n: f((n, n), J=2, L=4), "J=2, L=4"),
    demo.BankRecipe("morlet_1d", ("morlet_1d",), lambda f, n: f(4 * n, J=3, Q=2), "J=3, Q=2"),
    demo.BankRecipe("missing", ("no_such_bank", "nomodule:no_such_bank"), lambda f, n: f(n), ""),
    demo.BankRecipe("not_a_bank", ("plot_bank",), lambda f, n: f(n), ""),
)


def test_main_writes_gallery_and_prints_bounds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "DEFAULT_RECIPES", SMALL)
    monkeypatch.setattr(demo, "SHARED_DATA", tmp_path / "no_data")  # bundled digits: fast
    argv = ["--out", str(tmp_path), "--size", "32", "--dpi", "30", "--max-filters", "4",
            "--image-size", "64", "--digits-train", "300", "--digits-test", "100"]
    assert demo.main(argv) == 0
    printed = capsys.readouterr().out
    assert "skipped missing: filters.no_such_bank not found" in printed
    assert "skipped not_a_bank" in printed
    # the 1D bank holds two scattering orders: one row of bounds each
    assert "morlet_1d (order 1)" in printed and "morlet_1d (order 2)" in printed
    expected = [tmp_path / "filters" / "morlet_2d.png", tmp_path / "filters" / "morlet_1d.png",
                tmp_path / "filter_gallery.png", tmp_path / "scattering_camera.png"]
    # the scattering step reports the network's output and run time
    assert "Scattering2D(J=3, shape=(64, 64), L=8) of skimage camera: output (217, 8, 8)" in printed
    for path in expected:
        assert f"wrote {path}" in printed
        assert path.read_bytes()[:8] == PNG
        assert path.stat().st_mode & 0o044 == 0o044 & ~os.umask(os.umask(0))  # umask, not 0600
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p not in expected]
    assert leftovers == []


def test_frame_bounds_match_the_banks():
    banks = demo.build_banks(32, SMALL[:1], log=lambda line: None)
    (row,) = demo.frame_bounds_rows(banks)
    bank = banks["morlet_2d"][1]
    assert (row["A"], row["B"]) == bank.frame_bounds()
    assert row["filters"] == 8 and row["grid"] == "32x32"
    table = demo.frame_bounds_table(banks)
    assert f"{row['A']:.4g}" in table and f"{row['B'] / row['A']:.4g}" in table


def test_save_figure_is_atomic(tmp_path):
    target = tmp_path / "figure.png"
    target.write_bytes(b"old")

    class Failing:
        def savefig(self, stream, **kwargs):
            stream.write(b"half a PNG")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        demo.save_figure(Failing(), target)
    assert target.read_bytes() == b"old"  # untouched, and no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.png"]


@pytest.mark.parametrize("argv,name", [(["--size", "4"], "--size"),
                                       (["--max-filters", "0"], "--max-filters"),
                                       (["--dpi", "1"], "--dpi"),
                                       (["--digits-train", "0"], "--digits-train")])
def test_bad_arguments(argv, name, capsys):
    with pytest.raises(SystemExit):
        demo.main(argv)
    assert name in capsys.readouterr().err


def test_classify_digits_bundled_fallback(tmp_path, capsys):
    result = demo.classify_digits(n_train=600, n_test=300, root=tmp_path)
    assert result["source"].startswith("scikit-learn digits")
    assert (result["n_train"], result["n_test"]) == (600, 300)
    assert result["accuracy"] > 0.9
    assert f"{100 * result['accuracy']:.2f}%" in capsys.readouterr().out


def test_classify_digits_mnist(shared_data):
    result = demo.classify_digits(n_train=300, n_test=200, root=shared_data)
    assert result["source"].startswith("MNIST")
    assert result["n_features"] == 81 * 7 * 7  # J=2, L=8 on 28x28
    assert result["accuracy"] > 0.85
