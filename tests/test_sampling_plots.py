"""helpers.viz.sampling_plots, and the measurements it draws (slerp, laplacian_energy, class_spread) against their
definitions; figures and widgets build headless (agg, set in conftest) from tiny stand-in models, without a kernel."""

import ipywidgets
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from helpers.evaluation import sample_quality
from helpers.interpolation import slerp
from helpers.metrics import class_spread, laplacian_energy
from helpers.sampling import ddim_sample, ddpm_sample
from helpers.schedules import DiffusionSchedule
from helpers.viz import sampling_plots as sp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def schedule():
    return DiffusionSchedule.from_name("report", 300)


class TinyConditional(nn.Module):
    """A class-conditional stand-in: ε̂ depends on x, t and y (null label = num_classes); counts its calls."""

    in_channels = 1

    def __init__(self, num_classes=3):
        super().__init__()
        self.num_classes = num_classes
        self.table = torch.linspace(-0.5, 0.5, num_classes + 1)
        self.calls = 0

    def forward(self, x, t, y=None):
        self.calls += 1
        if y is None:
            y = torch.full((x.shape[0],), self.num_classes, dtype=torch.long)
        return 0.9 * x + self.table[y].reshape(-1, 1, 1, 1) + 1e-3 * t.to(x.dtype).reshape(-1, 1, 1, 1)


def _is_png(data) -> bool:
    return bytes(data).startswith(PNG_MAGIC)  # ipywidgets 8 hands back a memoryview, 7 the bytes


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- slerp

def test_slerp_endpoints_and_shape():
    a, b = _randn(1, 6, 5, seed=1), _randn(1, 6, 5, seed=2)
    out = slerp(a, b, torch.linspace(0, 1, 5))
    assert out.shape == (5, 1, 6, 5)
    torch.testing.assert_close(out[0], a)
    torch.testing.assert_close(out[-1], b)
    assert slerp(a, b, 0.5).shape == a.shape


def test_slerp_of_orthogonal_unit_vectors_stays_on_the_circle():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    alphas = torch.linspace(0, 1, 7, dtype=torch.float64)
    out = slerp(a.double(), b.double(), alphas)
    expected = torch.stack([torch.cos(alphas * torch.pi / 2), torch.sin(alphas * torch.pi / 2)], dim=1)
    torch.testing.assert_close(out, expected)


def test_slerp_keeps_the_norm_of_gaussian_noise_where_lerp_shrinks_it():
    a, b = _randn(4000, seed=3), _randn(4000, seed=4)
    mid = slerp(a, b, 0.5)
    assert mid.norm() / a.norm() == pytest.approx(1.0, abs=0.03)
    assert ((a + b) / 2).norm() / a.norm() == pytest.approx(2 ** -0.5, abs=0.03)


def test_slerp_parallel_inputs_fall_back_to_the_line():
    a = _randn(10, seed=5)
    torch.testing.assert_close(slerp(a, 2 * a, 0.5), 1.5 * a)


def test_slerp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="same shape"):
        slerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="alpha"):
        slerp(torch.ones(3), torch.ones(3), [[0.1, 0.2]])
    with pytest.raises(ValueError, match="alpha"):
        slerp(torch.ones(3), torch.ones(3), float("nan"))


# ---------------------------------------------------------------- laplacian energy

def test_laplacian_energy_zero_on_constant_and_ramp():
    ramp = torch.arange(8.0).reshape(1, 1, 1, 8).expand(2, 1, 8, 8)
    torch.testing.assert_close(laplacian_energy(ramp), torch.zeros(2))
    torch.testing.assert_close(laplacian_energy(torch.full((3, 2, 5, 5), -1.0)), torch.zeros(3))


def test_laplacian_energy_of_white_noise_is_20_sigma2():
    sigma = 0.1
    x = sigma * _randn(4, 1, 200, 200, seed=6).double()
    energy = laplacian_energy(x)
    assert energy.shape == (4,)
    assert energy.mean().item() == pytest.approx(20 * sigma**2, rel=0.02)


def test_laplacian_energy_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        laplacian_energy(torch.zeros(5, 5))


# ---------------------------------------------------------------- trajectories

def _trajectory(schedule, b=3):
    return ddim_sample(TinyConditional(), schedule, _randn(b, 1, 8, 8), steps=10, y=torch.arange(b) % 3,
                       return_trajectory=True)[1]


def test_pick_steps_includes_ends():
    assert sp._pick_steps(300, 4) == [0, 100, 199, 299]
    assert sp._pick_steps(3, 8) == [0, 1, 2]


def test_plot_trajectory_one_and_several_images(schedule):
    traj = _trajectory(schedule)
    fig = sp.plot_trajectory(traj, index=1, k=4, title="strip")
    assert len(fig.axes) == 2 * 4
    assert [ax.get_title() for ax in fig.axes[:4]] == [f"t = {int(traj['t'][i])}" for i in (0, 3, 6, 9)]
    assert fig.axes[0].get_ylabel() == "$x_t$"
    fig = sp.plot_trajectory(traj, index=[0, 2], k=3)
    assert len(fig.axes) == 4 * 3


def test_plot_trajectory_of_ddpm_labels_t(schedule):
    _, traj = ddpm_sample(TinyConditional(), schedule, _randn(2, 1, 6, 6), y=torch.tensor([0, 1]),
                          return_trajectory=True, trajectory_every=50)
    fig = sp.plot_trajectory(traj, k=3)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["t = 299", "t = 149", "t = 0"]


def test_plot_trajectory_rejects_other_objects():
    with pytest.raises(ValueError, match="return_trajectory"):
        sp.plot_trajectory({"t": torch.zeros(2)})


def test_trajectory_explorer_builds_and_moves(schedule):
    traj = _trajectory(schedule)
    box = sp.trajectory_explorer(traj, nrow=3)
    assert isinstance(box, ipywidgets.VBox)
    slider, info, pictures = box.children
    left, right = pictures.children
    assert isinstance(slider, ipywidgets.IntSlider) and slider.max == len(traj["t"]) - 1
    assert _is_png(left.value) and _is_png(right.value)
    before = bytes(left.value)
    slider.value = slider.max
    assert f"t = {int(traj['t'][-1])}" in info.value
    assert bytes(left.value) != before


# ---------------------------------------------------------------- guidance

def test_guidance_grid_shares_x_T_per_row(schedule):
    model = TinyConditional()
    grid = sp.guidance_grid(model, schedule, classes=[0, 2], scales=[0.0, 1.0, 3.0], steps=5, seed=1, shape=(1, 6, 6))
    assert grid.shape == (2, 3, 1, 6, 6)
    x_T = torch.randn(2, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    for j, s in enumerate([0.0, 1.0, 3.0]):
        expected = ddim_sample(model, schedule, x_T, steps=5, y=torch.tensor([0, 2]), guidance_scale=s)
        torch.testing.assert_close(grid[:, j], expected)


def test_guidance_explorer_builds_samples_and_caches(schedule):
    model = TinyConditional()
    box = sp.guidance_explorer(model, schedule, ["a", "b", "c"], scales=(0.0, 1.0, 3.0), steps_options=(2, 4),
                               n=3, value=(1, 3.0, 2), shape=(1, 6, 6))
    assert isinstance(box, ipywidgets.VBox)
    (menu, steps), scale, info, picture = box.children[0].children, box.children[1], box.children[2], box.children[3]
    assert isinstance(scale, ipywidgets.SelectionSlider) and menu.value == 1 and steps.value == 2
    assert _is_png(picture.value) and "b, s = 3" in info.value and "2 network passes" in info.value
    calls = model.calls
    scale.value = 0.0
    assert model.calls == calls + 2 and "1 network pass " in info.value
    scale.value = 3.0  # cached: no new model calls
    assert model.calls == calls + 2
    menu.value = 2
    assert "c, s = 3" in info.value


def test_guidance_explorer_rejects_a_start_value_off_the_menus(schedule):
    with pytest.raises(ValueError, match="value"):
        sp.guidance_explorer(TinyConditional(), schedule, ["a", "b", "c"], value=(0, 4.0, 20), shape=(1, 4, 4))


# ---------------------------------------------------------------- scores

def test_class_spread_of_known_clusters():
    f = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0], [10.0, 14.0], [50.0, 50.0]])
    y = torch.tensor([0, 0, 1, 1, 1, 2])
    # class 0: mean (1, 0), squared distances 1, 1 → 2/1; class 1: mean (10, 12), 4, 0, 4 → 8/2; class 2 left out
    assert class_spread(f, y) == pytest.approx((2 + 4) / 2)
    assert class_spread(f, torch.zeros(6, dtype=torch.long)) > class_spread(f, y)
    with pytest.raises(ValueError, match="features"):
        class_spread(f, y[:3])
    with pytest.raises(ValueError, match="two members"):
        class_spread(f[:2], torch.tensor([0, 1]))


def test_class_spread_is_unbiased():
    f = _randn(4000, 3, seed=7).double() * 2  # per-class covariance trace 3 · 4 = 12
    y = torch.arange(4000) % 2000  # 2,000 classes of two members each
    assert class_spread(f, y) == pytest.approx(12.0, rel=0.06)


class _FakeEvaluator:
    def fid(self, images):
        return float(images.abs().mean())

    def accuracy(self, images, labels):
        return float((labels == 0).float().mean())


def test_sample_quality_agrees_with_generate(schedule):
    from helpers.evaluation import generate

    model = TinyConditional()
    row, images = sample_quality(model, schedule, _FakeEvaluator(), 6, steps=3, guidance_scale=2.0, seed=3,
                                    batch=4, shape=(1, 5, 5))
    expected, labels = generate(model, schedule, 6, steps=3, guidance_scale=2.0, seed=3, batch=4, shape=(1, 5, 5))
    torch.testing.assert_close(images, expected)
    assert row["fid"] == pytest.approx(float(expected.abs().mean()))
    assert row["accuracy"] == pytest.approx(float((labels == 0).float().mean()))
    assert row["n"] == 6 and row["steps"] == 3 and row["guidance_scale"] == 2.0 and row["seconds"] >= 0
    row, _ = sample_quality(model, schedule, _FakeEvaluator(), 2, sampler="ddpm", shape=(1, 4, 4))
    assert row["steps"] == 300 and row["sampler"] == "ddpm"


def test_plot_quality_sweep_panels_references_and_points():
    fig = sp.plot_quality_sweep([10, 20, 50], {"FID": [3.0, 2.0, 1.5], "seconds": [1, 2, 5]},
                                references={"floor": 0.5, "grain": 4.0}, xlabel="steps", logx=True,
                                points={"DDPM": {"FID": (300, 1.2), "seconds": (300, 30)}}, xticks=[10, 20, 50, 300])
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["samples", "DDPM", "reference: floor", "reference: grain"]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "FID"
    low, high = ax.get_ylim()
    assert low < 0.5 and high > 4.0  # both references in view
    assert "reference: floor" not in fig.axes[1].get_legend_handles_labels()[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20", "50", "300"]
    fig = sp.plot_quality_sweep([0.0, 1.0], {"FID": [2.0, 3.0]}, xticks=[0, 1, 5])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "1"]  # ticks beyond the data dropped
    assert fig.axes[0].get_legend() is None
    fig = sp.plot_quality_sweep([0.0, 1.0], {"FID": [2.0, 3.0], "spread": [1.0, 2.0]}, references={"floor": 1.0},
                                lines={"spread": {"real images": 10.0}})
    assert fig.axes[1].get_legend_handles_labels()[1] == ["samples", "real images"]
    assert fig.axes[1].get_ylim()[1] > 10.0

