import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from PIL import Image
from sklearn.datasets import load_digits

from hourglass.exceptions import InvalidInputError
from hourglass.report import plots


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data / 16.0, data.target


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.parametrize("n_runs", [1, 3])
def test_loss_curves_one_line_per_run_and_key(n_runs):
    histories = {
        f"AE k={2**i}": {"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]} for i in range(n_runs)
    }
    fig = plots.loss_curves(histories)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    assert len(fig.axes[0].lines) == 2 * n_runs
    assert fig.axes[0].get_legend() is not None


@pytest.mark.parametrize(("values", "scale"), [([1.0, 0.5, 0.2], "linear"), ([10.0, 0.1, 0.001], "log")])
def test_loss_curves_log_scale_beyond_two_decades(values, scale):
    fig = plots.loss_curves({"run": {"train_loss": values}})
    assert fig.axes[0].get_yscale() == scale


def test_loss_curves_epochs_start_at_one():
    fig = plots.loss_curves({"run": {"train_loss": [3.0, 2.0, 1.0]}})
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])


def test_loss_curves_rejects_empty():
    with pytest.raises(InvalidInputError, match="at least one run"):
        plots.loss_curves({})


@pytest.mark.parametrize(("ae", "yscale"), [([0.04, 0.03, 0.02], "linear"), ([0.1, 0.01, 0.001], "log")])
def test_error_vs_code_size_two_lines_and_a_ratio_per_point(ae, yscale):
    table = pd.DataFrame({"code_size": [8, 2, 4], "ae_mse": ae, "pca_mse": [0.05, 0.04, 0.03]})
    ax = plots.error_vs_code_size(table).axes[0]
    assert len(ax.lines) == 2
    assert len(ax.texts) == 3
    assert ax.get_yscale() == yscale
    # Sorted by code size, so the lines do not zig-zag.
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [2, 4, 8])
    assert {text.get_text() for text in ax.texts} == {
        f"{a / p:.2f}×" for a, p in zip(ae, [0.05, 0.04, 0.03], strict=True)
    }


def test_error_vs_code_size_rejects_missing_column():
    with pytest.raises(InvalidInputError, match="pca_mse"):
        plots.error_vs_code_size(pd.DataFrame({"code_size": [2], "ae_mse": [0.1]}))


@pytest.mark.parametrize(("n_rows", "n_images"), [(3, 5), (1, 10), (2, 1)])
def test_reconstruction_grid_one_image_axes_per_image(digits, n_rows, n_images):
    X, _ = digits
    rows = {f"row {i}": X[i * n_images : (i + 1) * n_images] for i in range(n_rows)}
    fig = plots.reconstruction_grid(rows, (8, 8))
    assert len(_image_axes(fig)) == n_rows * n_images
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == list(rows)
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in fig.axes)


def test_reconstruction_grid_clips_unit_range_values(digits):
    X, _ = digits
    noisy = X[:4] + 0.05  # slightly above 1 in places, as an unclipped decoder gives
    fig = plots.reconstruction_grid({"original": X[:4], "AE": noisy}, (8, 8))
    for ax in fig.axes:
        assert ax.images[0].get_clim() == (0.0, 1.0)
        assert ax.images[0].get_array().max() <= 1.0


def test_reconstruction_grid_shares_one_scale_per_row_outside_unit_range():
    rng = np.random.default_rng(0)
    rows = {"small": rng.normal(size=(3, 16)), "large": 100 * rng.normal(size=(3, 16))}
    fig = plots.reconstruction_grid(rows, (4, 4))
    limits = [ax.images[0].get_clim() for ax in fig.axes]
    assert len(set(limits[:3])) == 1 and len(set(limits[3:])) == 1
    assert limits[0] != limits[3]


@pytest.mark.parametrize(("shape", "rgb"), [((1, 4, 4), False), ((3, 4, 4), True)])
def test_reconstruction_grid_channel_first_images(shape, rgb):
    rows = {"original": np.random.default_rng(0).random((2, int(np.prod(shape))))}
    fig = plots.reconstruction_grid(rows, shape)
    assert (fig.axes[0].images[0].get_array().ndim == 3) is rgb


@pytest.mark.parametrize("shape", [(7, 7), (2, 8, 4)])
def test_reconstruction_grid_rejects_wrong_shape(digits, shape):
    X, _ = digits
    with pytest.raises(InvalidInputError):
        plots.reconstruction_grid({"original": X[:2]}, shape)


@pytest.mark.parametrize("k", [3, 8, 64])
def test_code_map_projects_wide_codes_with_pca(digits, k):
    X, y = digits
    ax = plots.code_map(X[:200, :k], y[:200]).axes[0]
    assert "PCA" in ax.get_xlabel() and "PC 1" in ax.get_xlabel()
    assert "PC 2" in ax.get_ylabel()


def test_code_map_plots_2d_codes_directly(digits):
    X, _ = digits
    codes = X[:100, 10:12]
    ax = plots.code_map(codes, title="raw").axes[0]
    assert "PCA" not in ax.get_xlabel()
    np.testing.assert_allclose(ax.collections[0].get_offsets(), codes)
    assert ax.get_title(loc="left") == "raw"


def test_code_map_discrete_labels_get_a_legend_entry_per_class(digits):
    X, y = digits
    ax = plots.code_map(X[:300, :5], y[:300]).axes[0]
    assert len(ax.get_legend().get_texts()) == len(np.unique(y[:300]))


def test_code_map_continuous_labels_get_a_colorbar():
    rng = np.random.default_rng(0)
    fig = plots.code_map(rng.normal(size=(50, 2)), rng.random(50))
    assert len(fig.axes) == 2  # scatter + colorbar


def test_code_map_rejects_mismatched_labels():
    with pytest.raises(InvalidInputError, match="one label per code"):
        plots.code_map(np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("log", [False, True])
def test_histogram_scale_and_median(log):
    values = np.random.default_rng(0).exponential(size=1000)
    ax = plots.histogram(values, "scores", "score", log=log).axes[0]
    assert ax.get_yscale() == ("log" if log else "linear")
    assert ax.patches and ax.get_xlabel() == "score" and ax.get_title(loc="left") == "scores"
    assert ax.lines[0].get_xdata()[0] == pytest.approx(np.median(values))


def test_histogram_rejects_no_finite_values():
    with pytest.raises(InvalidInputError, match="no finite values"):
        plots.histogram(np.array([np.nan, np.inf]), "t", "x")


@pytest.mark.parametrize(
    ("shape", "ncols", "n_rows"), [((10, 8, 8), 4, 3), ((6, 3, 5, 5), 8, 1), ((3, 1, 4, 4), 2, 2)]
)
def test_image_grid_one_axes_per_image(shape, ncols, n_rows):
    images = np.random.default_rng(0).random(shape)
    fig = plots.image_grid(images, titles=[f"#{i}" for i in range(shape[0])], ncols=ncols)
    assert len(_image_axes(fig)) == shape[0]
    assert fig.axes[-1].get_subplotspec().get_gridspec().get_geometry() == (n_rows, min(ncols, shape[0]))
    assert fig.axes[1].get_title() == "#1"


def test_image_grid_diverging_cmap_is_symmetric_about_zero():
    atoms = np.random.default_rng(0).normal(loc=0.5, size=(4, 8, 8))
    fig = plots.image_grid(atoms, cmap="RdBu_r")
    low, high = fig.axes[0].images[0].get_clim()
    assert low == pytest.approx(-high)


def test_image_grid_rejects_wrong_number_of_titles():
    with pytest.raises(InvalidInputError, match="titles"):
        plots.image_grid(np.zeros((3, 4, 4)), titles=["a"])


def test_figure_to_png_decodes_at_report_dpi():
    fig = plots.histogram(np.arange(20.0), "t", "x")
    image = Image.open(io.BytesIO(plots.figure_to_png(fig)))
    assert image.format == "PNG"
    width, height = fig.get_size_inches() * plots.DPI
    assert image.size == (round(width), round(height))


# -- epochs, best epoch, side-by-side maps, scores and error maps --------------------------------------


def test_loss_curves_ticks_whole_epochs_only():
    fig = plots.loss_curves({"run": {"train_loss": list(np.linspace(1.0, 0.1, 7))}})
    ax = fig.axes[0]
    fig.canvas.draw()  # the locator places ticks at draw time
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)


@pytest.mark.parametrize(
    ("history", "y"),
    [({"train_loss": [3, 2, 1], "val_loss": [4, 2, 5]}, 2.0), ({"train_loss": [3, 2, 1]}, 2.0)],
)
def test_loss_curves_mark_the_best_epoch_on_the_curve_that_chose_it(history, y):
    ax = plots.loss_curves({"run": history}, {"run": 2}).axes[0]
    markers = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(markers) == 1
    assert list(markers[0].get_xdata()) == [2] and list(markers[0].get_ydata()) == [y]


@pytest.mark.parametrize("best", [0, 9])
def test_loss_curves_skip_a_best_epoch_outside_the_run(best):
    ax = plots.loss_curves({"run": {"train_loss": [3.0, 2.0]}}, {"run": best}).axes[0]
    assert not [line for line in ax.lines if line.get_marker() == "*"]


def _class_colors(ax):
    """Face colour of each scatter collection, by its legend label."""
    handles = ax.get_legend().legend_handles
    return {h.get_label(): to_rgba(h.get_color()) for h in handles}


def test_code_map_uses_the_colours_given_per_class():
    codes = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.repeat([5, 7, 9], 10)
    ax = plots.code_map(codes, labels, colors={7: "#ff0000"}, legend_title="cluster").axes[0]
    colors = _class_colors(ax)
    assert colors["7"] == (1.0, 0.0, 0.0, 1.0)
    assert len(set(colors.values())) == 3  # the others take colours nobody was given
    assert ax.get_legend().get_title().get_text() == "cluster"


def test_code_maps_draw_panels_side_by_side_in_the_same_colours(digits):
    X, y = digits
    fig = plots.code_maps({"autoencoder": X[:200, :2], "PCA": X[:200, 2:6]}, y[:200])
    left, right = fig.axes
    assert left.get_position().x1 <= right.get_position().x0  # beside, not stacked
    assert left.get_legend() is None and right.get_legend() is not None  # one legend for both
    first = [tuple(c.get_facecolor()[0]) for c in left.collections]
    second = [tuple(c.get_facecolor()[0]) for c in right.collections]
    assert first == second


def test_score_histogram_draws_groups_quantiles_and_threshold():
    rng = np.random.default_rng(0)
    fig = plots.score_histogram(
        {"normal": rng.exponential(size=200), "abnormal": 3 + rng.exponential(size=50)},
        {"calibration median": 0.7, "calibration 99%": 4.6},
        threshold=4.6,
    )
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["normal (200)", "abnormal (50)"]
    assert any(label.startswith("threshold") for label in labels)
    assert len(ax.lines) == 3


def test_score_histogram_rejects_no_scores():
    with pytest.raises(InvalidInputError, match="no finite scores"):
        plots.score_histogram({"empty": np.array([np.nan])}, {})


@pytest.mark.parametrize("shape", [(8, 8), (3, 4, 4)])
def test_error_maps_show_input_reconstruction_and_map_with_a_colour_bar(shape):
    rng = np.random.default_rng(0)
    d = int(np.prod(shape))
    X = rng.random((4, d))
    fig = plots.error_maps(X, X * 0.9, (X * 0.1) ** 2, shape, titles=["a", "b", "c", "d"])
    images = _image_axes(fig)
    assert len(images) == 3 * 4 + 0  # the colour bar holds no image
    assert [
        ax.get_ylabel() for ax in fig.axes if ax.get_ylabel() in ("input", "reconstruction", "error")
    ] == [
        "input",
        "reconstruction",
        "error",
    ]
    bar = fig.axes[-1]
    assert bar.get_ylabel() == "squared error"
    assert images[-1].images[0].get_clim()[0] == 0.0  # errors start at zero


def test_error_maps_rejects_mismatched_counts():
    X = np.zeros((3, 64))
    with pytest.raises(InvalidInputError, match="2 maps for 3 inputs"):
        plots.error_maps(X, X, X[:2], (8, 8))


def test_log_axes_say_so_and_extreme_ratios_read_as_numbers():
    # Log axes were labelled like linear ones; a ratio over an exact PCA read 407318377630.82x.
    table = pd.DataFrame({"code_size": [1, 2, 16], "ae_mse": [0.4, 0.3, 0.2], "pca_mse": [1e-12, 1e-12, 0.1]})
    ax = plots.error_vs_code_size(table).axes[0]
    assert ax.get_ylabel().endswith("(log scale)") and ax.get_xlabel() == "code size (log scale)"
    assert {text.get_text() for text in ax.texts} == {"4e+11×", "3e+11×", "2.00×"}
    linear = plots.error_vs_code_size(
        pd.DataFrame({"code_size": [2, 4], "ae_mse": [1.0, 0.9], "pca_mse": [1.1, 1.0]})
    )
    assert "log" not in linear.axes[0].get_ylabel() + linear.axes[0].get_xlabel()
    counts = plots.histogram(np.random.default_rng(0).exponential(size=200), "errors", "error", log=True)
    assert counts.axes[0].get_ylabel() == "count (log scale)"
    curves = plots.loss_curves({"m": {"train_loss": [10.0, 0.1, 0.001]}}).axes[0]
    assert curves.get_ylabel() == "loss (log scale)"


def test_a_one_epoch_curve_is_drawn_with_whole_epoch_ticks():
    ax = plots.loss_curves({"m": {"train_loss": [1.0], "val_loss": [1.1]}}, {"m": 1}).axes[0]
    assert ax.lines[0].get_marker() == "o"  # a one-point line without a marker drew nothing
    assert list(ax.get_xticks()) == [1]
