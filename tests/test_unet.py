"""The network: the time embedding against its formula, the seed style against the report's facts,
conditioning, determinism, gradient flow, argument checks, and the anatomy helpers.

Models are small (seed: base_channels=32, modern: 16) and batches tiny, so the file runs in seconds on CPU.
"""

import math

import pytest
import torch
from torch import nn

from helpers.unet import (
    NETWORKS,
    ModernUNet,
    ResBlock,
    SeedUNet,
    UNet,
    count_parameters,
    timestep_embedding,
    unconditional_branch,
)
from helpers.viz.inspect_model import (
    blocks_changed,
    embedding_inputs,
    format_table,
    model_blocks,
    parameter_table,
    skip_connections,
    source_lines,
    trace_shapes,
)

SMALL = {"seed": {"style": "seed", "base_channels": 32}, "modern": {"style": "modern", "base_channels": 16}}
STYLES = list(SMALL)


def _embedding_by_formula(t, dim, max_period=10000.0):
    """e(t) = [cos(t·ω_0) … cos(t·ω_{d/2−1}), sin(t·ω_0) … sin(t·ω_{d/2−1})], ω_i = P^(−i/(d/2)), in float64."""
    half = dim // 2
    rows = []
    for ti in t:
        w = [max_period ** (-i / half) for i in range(half)]
        rows.append([math.cos(ti * wi) for wi in w] + [math.sin(ti * wi) for wi in w])
    return torch.tensor(rows, dtype=torch.float64)


def _batch(model, b=2, hw=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    hw = hw or (28 if model.in_channels == 1 else 32)
    x = torch.randn(b, model.in_channels, hw, hw, generator=g)
    t = torch.randint(0, 300, (b,), generator=g)
    return x, t


def _perturb_conv_out(model, seed=0):
    """Give the modern style's zero-initialised output layer small random weights (see the tests below)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.conv_out.weight.copy_(0.05 * torch.randn(model.conv_out.weight.shape, generator=g))
        model.conv_out.bias.copy_(0.05 * torch.randn(model.conv_out.bias.shape, generator=g))
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread is as fast, and far faster when the cores are shared with other jobs."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module", params=STYLES)
def small_model(request):
    torch.manual_seed(0)
    return UNet(**SMALL[request.param]).eval()


# ------------------------------------------------------------------ timestep_embedding
@pytest.mark.parametrize("dim", [2, 8, 128])
def test_embedding_small_t_matches_formula_tightly(dim):
    t = list(range(11))
    got = timestep_embedding(torch.tensor(t), dim)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), _embedding_by_formula(t, dim), atol=2e-6, rtol=0)


@pytest.mark.parametrize("max_period", [10000.0, 100.0])
def test_embedding_large_t_matches_formula(max_period):
    # float32 arguments t·ω carry an absolute error of ~t·1e-7, so the tolerance grows with t;
    # a wrong exponent (i/(d/2 − 1)), swapped halves or a missing factor would be off by O(1).
    t = [0, 1, 17, 150, 299, 999]
    got = timestep_embedding(torch.tensor(t), 64, max_period=max_period)
    torch.testing.assert_close(got.double(), _embedding_by_formula(t, 64, max_period), atol=5e-4, rtol=0)


def test_embedding_cos_half_first_and_unit_pairs():
    e = timestep_embedding(torch.tensor([0, 5]), 16)
    torch.testing.assert_close(e[0], torch.cat([torch.ones(8), torch.zeros(8)]))
    # each (cos, sin) pair lies on the unit circle, so every embedding has norm √(d/2)
    torch.testing.assert_close(e[:, :8] ** 2 + e[:, 8:] ** 2, torch.ones(2, 8))
    torch.testing.assert_close(e.norm(dim=1), torch.full((2,), math.sqrt(8.0)))


def test_embedding_shape_and_distinct_rows():
    t = torch.arange(300)
    e = timestep_embedding(t, 128)
    assert e.shape == (300, 128)
    d = torch.cdist(e, e)
    d.fill_diagonal_(float("inf"))
    assert d.min() > 1e-3, "two timesteps share an embedding"


def test_embedding_scalar_and_int_t():
    assert timestep_embedding(7, 8).shape == (1, 8)
    torch.testing.assert_close(timestep_embedding(torch.tensor(7), 8), timestep_embedding(torch.tensor([7]), 8))


@pytest.mark.parametrize("dim", [7, 1, 0])
def test_embedding_rejects_odd_or_tiny_dim(dim):
    with pytest.raises(ValueError, match="dim"):
        timestep_embedding(torch.arange(3), dim)


def test_embedding_rejects_2d_t():
    with pytest.raises(ValueError, match="t must have shape"):
        timestep_embedding(torch.zeros(2, 3, dtype=torch.long), 8)


# ------------------------------------------------------------------ shapes and the report's facts
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("in_channels,hw,depth", [(1, 28, 2), (3, 32, 3)], ids=["28x28x1", "32x32x3-depth3"])
def test_output_shape_equals_input_shape(style, in_channels, hw, depth):
    torch.manual_seed(0)
    model = UNet(in_channels=in_channels, depth=depth, **SMALL[style]).eval()
    x, t = _batch(model, b=2, hw=hw)
    with torch.no_grad():
        assert model(x, t).shape == x.shape


def test_seed_style_has_the_reports_parameter_count():
    assert count_parameters(UNet(in_channels=1, base_channels=128, style="seed")) == 3_281_153


def test_seed_style_depth3_channels_are_128_256_512():
    model = UNet(in_channels=3, base_channels=128, style="seed", depth=3)
    assert [c.out_channels for c in model.down_convs] == [128, 256, 512]
    assert model.up_convs[-1].out_channels == 3


@pytest.mark.parametrize("num_classes", [10, 3])
def test_seed_class_embedding_adds_exactly_its_table(num_classes):
    c = 32
    plain = count_parameters(UNet(base_channels=c, style="seed"))
    cond = count_parameters(UNet(base_channels=c, style="seed", num_classes=num_classes))
    assert cond - plain == (num_classes + 1) * 2 * c


@pytest.mark.parametrize("style", STYLES)
def test_class_embedding_has_a_null_row(style):
    model = UNet(num_classes=10, **SMALL[style])
    assert isinstance(model.class_embed, nn.Embedding)
    assert model.class_embed.num_embeddings == 11
    assert UNet(**SMALL[style]).class_embed is None


@pytest.mark.parametrize("style", STYLES)
def test_no_label_means_the_null_label(style):
    torch.manual_seed(0)
    model = UNet(num_classes=10, **SMALL[style])
    if style == "modern":   # conv_out starts at zero (ε̂ ≡ 0 for any input): perturb it, or all outputs are equal
        _perturb_conv_out(model)
    model.eval()
    x, t = _batch(model)
    with torch.no_grad():
        out_none = model(x, t)
        out_null = model(x, t, torch.full((2,), 10))
        out_null_int = model(x, t, 10)
        out_3 = model(x, t, torch.full((2,), 3))
        out_7 = model(x, t, torch.tensor([7, 3]))
    assert torch.equal(out_none, out_null)
    assert torch.equal(out_null, out_null_int)
    assert (out_3 - out_null).abs().max() > 1e-4
    assert (out_7[0] - out_3[0]).abs().max() > 1e-4     # example 0: label 7 vs 3 differ
    torch.testing.assert_close(out_7[1], out_3[1])       # example 1: label 3 in both, per-example labels


@pytest.mark.parametrize("style", STYLES)
def test_output_depends_on_t(style):
    torch.manual_seed(0)
    model = UNet(**SMALL[style])
    if style == "modern":
        _perturb_conv_out(model)
    model.eval()
    x, _ = _batch(model)
    with torch.no_grad():
        assert (model(x, 0) - model(x, 250)).abs().max() > 1e-4


def test_modern_style_starts_at_zero():
    """The zero-initialised output layer: ε̂ ≡ 0 before training, so the first loss is E[ε²] = 1."""
    torch.manual_seed(0)
    model = UNet(**SMALL["modern"])
    x, t = _batch(model)
    with torch.no_grad():
        assert torch.equal(model(x, t), torch.zeros_like(x))


def test_deterministic_in_eval_mode(small_model):
    x, t = _batch(small_model)
    with torch.no_grad():
        a = small_model(x, t)
        b = small_model(x.clone(), t.clone())
    assert torch.equal(a, b)


@pytest.mark.parametrize("style", STYLES)
def test_each_sample_is_independent_of_its_batch_mates(style):
    """In eval mode ε_θ of a batch equals, row by row, ε_θ of each sample alone: the norms, the attention and the
    embeddings act per sample, so a sampler's draws in one batch are independent given their x_T and noise.
    In float64: in float32 a batch of 4 and a batch of 1 may take different kernels, whose rounding differs by
    about 1e-6 (seen once in a full run), while a real leak between rows would show at any precision."""
    torch.manual_seed(0)
    model = UNet(num_classes=10, **SMALL[style]).eval().double()
    if style == "modern":
        _perturb_conv_out(model)  # its zero-initialised output would make every row 0, batched or not
    x, t = _batch(model, b=4)
    x, y = x.double(), torch.tensor([3, 0, 7, 3])
    with torch.no_grad():
        together = model(x, t, y)
        alone = torch.cat([model(x[i:i + 1], t[i:i + 1], y[i:i + 1]) for i in range(4)])
    assert together.dtype == torch.float64 and together.abs().max() > 1e-3  # not trivially equal
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-12)


def test_int_t_equals_broadcast_tensor_t(small_model):
    x, _ = _batch(small_model)
    with torch.no_grad():
        assert torch.equal(small_model(x, 42), small_model(x, torch.full((2,), 42)))
        assert torch.equal(small_model(x, torch.tensor(42)), small_model(x, 42))


# ------------------------------------------------------------------ gradients
def _grads_after_one_backward(model, seed=0):
    model.train()
    model.zero_grad(set_to_none=True)
    x, t = _batch(model, seed=seed)
    y = torch.tensor([1, 4]) if model.num_classes else None
    loss = (model(x, t, y) - torch.randn_like(x)).pow(2).mean()
    loss.backward()
    return {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("num_classes", [None, 10])
def test_gradients_reach_every_parameter(style, num_classes):
    """Every parameter gets a nonzero gradient from one loss.

    The modern style's conv_out is zero at initialisation, which blocks all gradient upstream of it
    (∂loss/∂h = W_outᵀ·… = 0) for exactly one step; we give conv_out small random weights first, as one
    optimiser step would (test_modern_zero_init_first_step_only_trains_conv_out checks that stage).
    For the class table only the rows of the labels used can receive gradient.
    """
    torch.manual_seed(0)
    model = UNet(num_classes=num_classes, **SMALL[style])
    if style == "modern":
        _perturb_conv_out(model)
    grads = _grads_after_one_backward(model)
    missing = [n for n, g in grads.items() if g is None]
    assert not missing, f"no gradient reaches {missing}"
    for name, g in grads.items():
        if name == "class_embed.weight":
            used = torch.tensor([1, 4])
            assert (g[used].abs().sum(1) > 0).all()
            assert torch.equal(g[[0, 2, 3, 5, 6, 7, 8, 9, 10]], torch.zeros_like(g[[0, 2, 3, 5, 6, 7, 8, 9, 10]]))
        else:
            assert g.abs().max() > 0, f"zero gradient for {name}"


def test_modern_zero_init_first_step_only_trains_conv_out():
    """With conv_out = 0, only conv_out's own gradient is nonzero; after one step everything trains."""
    torch.manual_seed(0)
    model = UNet(**SMALL["modern"])
    grads = _grads_after_one_backward(model)
    nonzero = {n for n, g in grads.items() if g is not None and g.abs().max() > 0}
    assert nonzero == {"conv_out.weight", "conv_out.bias"}
    with torch.no_grad():
        for p, g in zip(model.parameters(), grads.values()):
            p -= 1e-2 * g                             # one SGD step moves conv_out off zero
    grads = _grads_after_one_backward(model, seed=1)
    assert all(g is not None and g.abs().max() > 0 for g in grads.values())


# ------------------------------------------------------------------ argument checks
@pytest.fixture(scope="module", params=STYLES)
def cond_model(request):
    torch.manual_seed(0)
    return UNet(num_classes=10, **SMALL[request.param]).eval()


def test_rejects_wrong_channel_count(small_model):
    with pytest.raises(ValueError, match="channels.*in_channels=1"):
        small_model(torch.zeros(2, 3, 28, 28), 0)


@pytest.mark.parametrize("hw", [(30, 28), (28, 26), (27, 27)])
def test_rejects_size_not_divisible_by_2_pow_depth(small_model, hw):
    with pytest.raises(ValueError, match=r"2\*\*depth = 4"):
        small_model(torch.zeros(2, 1, *hw), 0)


def test_rejects_non_4d_x(small_model):
    with pytest.raises(ValueError, match="x must have shape"):
        small_model(torch.zeros(1, 28, 28), 0)


def test_rejects_labels_for_unconditional_model(small_model):
    with pytest.raises(ValueError, match="unconditional"):
        small_model(torch.zeros(2, 1, 28, 28), 0, torch.tensor([1, 2]))


@pytest.mark.parametrize("y", [torch.tensor([-1, 0]), torch.tensor([0, 11]), -1, 11],
                         ids=["tensor-negative", "tensor-above-null", "int-negative", "int-above-null"])
def test_rejects_labels_out_of_range(cond_model, y):
    with pytest.raises(ValueError, match=r"y must be in 0\.\.9, or 10"):
        cond_model(torch.zeros(2, 1, 28, 28), 0, y)


@pytest.mark.parametrize("y", [torch.tensor([1.0, 2.0]), torch.tensor([1, 2, 3]), torch.tensor([True, False]), 1.0],
                         ids=["float", "wrong-length", "bool", "python-float"])
def test_rejects_malformed_labels(cond_model, y):
    with pytest.raises(ValueError, match="y must be"):
        cond_model(torch.zeros(2, 1, 28, 28), 0, y)


# t is checked by helpers._checks.check_timesteps, the check the schedule functions use; the patterns accept
# its wording before and after the rewrite of helpers/_checks.py ("t has 3 entries but the batch has 2 images",
# "t must be … of shape [B] with B = 2 (the batch)")
@pytest.mark.parametrize("t", [torch.tensor([1, 2, 3]), torch.tensor([[1], [2]]), torch.tensor([1])],
                         ids=["too-long", "shape-Bx1", "length-1"])
def test_rejects_t_not_matching_batch(small_model, t):
    with pytest.raises(ValueError, match=r"^t (has \d entries but the batch has 2|must .*shape \[B\])"):
        small_model(torch.zeros(2, 1, 28, 28), t)


@pytest.mark.parametrize("t", [1.5, torch.tensor([1.0, 2.0]), True, [1, 2]],
                         ids=["float", "float-tensor", "bool", "list"])
def test_rejects_non_integer_t(small_model, t):
    with pytest.raises(ValueError, match=r"^t must (be an int|hold integers)"):
        small_model(torch.zeros(2, 1, 28, 28), t)


@pytest.mark.parametrize("t,bad", [(-1, "-1"), (torch.tensor([3, -2]), "-2")], ids=["int", "tensor"])
def test_rejects_negative_t(small_model, t, bad):
    """Timesteps are 0-based indices; a network has no T of its own, so only the lower bound is checked.
    The message names t, the bound 0 and the offending value."""
    with pytest.raises(ValueError, match=rf"^t must\b.*\b0\b.*{bad}"):
        small_model(torch.zeros(2, 1, 28, 28), t)


def test_rejects_unknown_style():
    with pytest.raises(ValueError, match="style must be one of 'seed', 'modern'"):
        UNet(style="transformer")


@pytest.mark.parametrize("c", [16, 48, 100])
def test_seed_style_needs_base_channels_multiple_of_32(c):
    with pytest.raises(ValueError, match="base_channels must be a multiple of 32"):
        UNet(style="seed", base_channels=c)


@pytest.mark.parametrize("num_classes", [0, -3, True, 2.5])
def test_rejects_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        UNet(num_classes=num_classes, **SMALL["seed"])


# ------------------------------------------------------------------ UNet builds one of two classes
@pytest.mark.parametrize("style", STYLES)
def test_unet_builds_the_class_of_its_style(style):
    model = UNet(**SMALL[style])
    assert type(model) is NETWORKS[style] is {"seed": SeedUNet, "modern": ModernUNet}[style]
    assert model.style == model.config["style"] == style


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("num_classes", [None, 10])
def test_class_used_directly_equals_unet(style, num_classes):
    """SeedUNet(...) and ModernUNet(...) are the same networks as UNet(style=...): same weights from the same
    seed (so the modules are registered in the same order), the same config, and UNet(**config) rebuilds them
    with the same state_dict keys, which is what loading a checkpoint needs."""
    kwargs = {k: v for k, v in SMALL[style].items() if k != "style"}
    torch.manual_seed(0)
    direct = NETWORKS[style](num_classes=num_classes, **kwargs)
    torch.manual_seed(0)
    built = UNet(num_classes=num_classes, style=style, **kwargs)
    assert direct.config == built.config
    a, b = direct.state_dict(), built.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    rebuilt = UNet(**direct.config)
    rebuilt.load_state_dict(a)                       # strict: every key matches
    x, t = _batch(direct)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x, t), direct.eval()(x, t))


def test_unet_defaults_and_none_options():
    """None (for base_channels or an option) means the network's default: the report's width for the seed
    style, 32 for the modern style, whose default channel_mult has depth + 1 entries."""
    assert UNet(style="seed").base_channels == 128 and UNet(style="seed", depth=None).depth == 2
    modern = UNet(style="modern", depth=None, channel_mult=None)
    assert modern.config == UNet(style="modern").config
    assert (modern.base_channels, modern.config["channel_mult"]) == (32, (1, 2, 2))
    assert UNet(style="modern", base_channels=16, depth=3).config["channel_mult"] == (1, 2, 2, 2)


def test_seed_style_rejects_modern_only_options():
    """The report's network has no attention or residual-block options: asking for them is an error, not ignored."""
    with pytest.raises(TypeError, match="attention"):
        UNet(style="seed", base_channels=32, attention=False)


def test_modern_channel_mult_must_match_depth():
    with pytest.raises(ValueError, match="channel_mult"):
        UNet(style="modern", base_channels=16, depth=2, channel_mult=(1, 2))


# ------------------------------------------------------------------ anatomy helpers
def test_trace_shapes_follows_the_seed_u():
    model = UNet(**SMALL["seed"]).eval()
    calls = trace_shapes(model, torch.zeros(1, 1, 28, 28), 0)
    got = [(c["block"], c["out_shape"]) for c in calls]
    assert got == [
        ("down_convs.0", "[1, 32, 28, 28]"), ("down_samples.0", "[1, 32, 14, 14]"),
        ("down_convs.1", "[1, 64, 14, 14]"), ("down_samples.1", "[1, 64, 7, 7]"),
        ("time_embed", "[1, 64]"), ("middle", "[1, 64, 7, 7]"),
        ("up_samples.0", "[1, 64, 14, 14]"), ("up_convs.0", "[1, 32, 14, 14]"),
        ("up_samples.1", "[1, 32, 28, 28]"), ("up_convs.1", "[1, 1, 28, 28]"),
    ]
    assert [c["step"] for c in calls] == list(range(len(calls)))
    # the hooks are gone afterwards, also when the forward pass fails
    with pytest.raises(ValueError):
        trace_shapes(model, torch.zeros(1, 2, 28, 28), 0)
    assert all(not m._forward_hooks for _, m in model_blocks(model))


def test_parameter_table_adds_up(small_model):
    rows = parameter_table(small_model)
    assert rows[-1]["block"] == "total"
    assert rows[-1]["params"] == count_parameters(small_model) == sum(r["params"] for r in rows[:-1])
    text = format_table(rows)
    assert text.splitlines()[0].split() == ["block", "type", "params", "share"]
    assert f"{count_parameters(small_model):,}" in text.splitlines()[-1]


def _depends_on(model, x, args_a, args_b):
    """Block name → whether its output changes between model(x, *args_a) and model(x, *args_b)."""
    rows = blocks_changed(model, (x, *args_a), (x, *args_b))
    assert all(r["changed"] == (r["max_abs_diff"] > 0) for r in rows)
    return {r["block"]: r["changed"] for r in rows}


def test_seed_style_sees_t_and_y_only_after_the_middle_block():
    """The report's wiring: the encoder and the middle block are blind to t and y; the decoder is not."""
    torch.manual_seed(0)
    model = UNet(num_classes=10, **SMALL["seed"]).eval()
    x = torch.randn(1, 1, 28, 28)
    by_t = _depends_on(model, x, (0, 3), (299, 3))
    by_y = _depends_on(model, x, (7, 3), (7, 10))
    encoder = ["down_convs.0", "down_samples.0", "down_convs.1", "down_samples.1", "middle"]
    decoder = ["up_samples.0", "up_convs.0", "up_samples.1", "up_convs.1"]
    assert not any(by_t[b] or by_y[b] for b in encoder)
    assert all(by_t[b] and by_y[b] for b in decoder)
    assert by_t["time_embed"] and not by_y["time_embed"]
    assert by_y["class_embed"] and not by_t["class_embed"]


def test_modern_style_tells_t_to_every_residual_block():
    torch.manual_seed(0)
    model = _perturb_conv_out(UNet(**SMALL["modern"])).eval()
    x = torch.randn(1, 1, 28, 28)
    by_t = _depends_on(model, x, (0,), (299,))
    assert not by_t["conv_in"]
    res_blocks = [name for name, m in model_blocks(model) if isinstance(m, ResBlock)]
    assert len(res_blocks) == 3 + 2 + 6 and all(by_t[b] for b in res_blocks)
    assert by_t["conv_out"]


def test_source_lines_point_at_the_embedding():
    hits = source_lines(SeedUNet.forward, r"\bemb\b")
    assert any("time_embed" in text for _, text in hits)
    lines = open(SeedUNet.forward.__code__.co_filename, encoding="utf-8").read().splitlines()
    assert all(lines[n - 1].strip() == text for n, text in hits)
    assert source_lines(SeedUNet.forward, "no such text") == []


def test_format_table_float_formats():
    rows = [{"name": "a", "mse": 0.031234, "share": 0.5}, {"name": "bb", "mse": 0.1, "share": 0.25}]
    text = format_table(rows, floatfmt={"mse": ".4f"})
    assert text.splitlines()[2].split() == ["a", "0.0312", "0.500"]
    assert format_table([]) == ""


def test_plot_trace_draws_every_feature_map():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from helpers.viz.unet_diagram import plot_trace

    calls = trace_shapes(UNet(**SMALL["seed"]), torch.zeros(1, 1, 28, 28), 0)
    fig = plot_trace(calls, title="seed")
    ax = fig.axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [c["block"] for c in calls]
    dots, triangles = ax.collections[:2]
    assert len(dots.get_offsets()) == 9 and len(triangles.get_offsets()) == 1   # 9 maps + time_embed
    assert sorted({float(h) for _, h in dots.get_offsets()}) == [7.0, 14.0, 28.0]
    plt.close(fig)


SEED_SKIPS = [("down_samples.1", "up_samples.0"), ("down_convs.1", "up_convs.0"),
              ("down_samples.0", "up_samples.1"), ("down_convs.0", "up_convs.1")]
MODERN_SKIPS = [("down.4", "up.0"), ("down.3", "up.1"), ("down.2", "up.3"), ("down.1", "up.4"), ("down.0", "up.6"),
                ("conv_in", "up.7")]


@pytest.mark.parametrize("num_classes", [None, 10])
def test_trace_finds_the_seed_skips_added_and_the_one_embedding_input(num_classes):
    """Read off the data flow, not written in: the skips are the forward pass's own (the middle block's inner
    residual is not one), added; t (and y) join the path once, after the middle block."""
    calls = trace_shapes(UNet(num_classes=num_classes, **SMALL["seed"]).eval(), torch.zeros(1, 1, 28, 28), 0)
    assert [(s["from"], s["to"], s["via"]) for s in skip_connections(calls)] == [(a, b, "add") for a, b in SEED_SKIPS]
    embeds = ["time_embed"] + (["class_embed"] if num_classes else [])
    assert embedding_inputs(calls) == [{"from": e, "to": "up_samples.0", "via": "add"} for e in embeds]
    assert calls[0]["sources"] == [{"block": "(input)", "via": "input"}]


@pytest.mark.parametrize("num_classes", [None, 10])
def test_trace_finds_the_modern_skips_concatenated_and_every_res_block_told_the_embedding(num_classes):
    model = UNet(num_classes=num_classes, **SMALL["modern"]).eval()
    calls = trace_shapes(model, torch.zeros(1, 1, 28, 28), torch.tensor([3]))
    assert [(s["from"], s["to"], s["via"]) for s in skip_connections(calls)] == [(a, b, "cat") for a, b in MODERN_SKIPS]
    res_blocks = [name for name, m in model_blocks(model) if isinstance(m, ResBlock)]
    entries = embedding_inputs(calls)
    assert {e["via"] for e in entries} == {"argument"}
    assert [e["to"] for e in entries if e["from"] == "time_mlp"] == res_blocks
    assert [e["to"] for e in entries if e["from"] == "class_embed"] == (res_blocks if num_classes else [])
    time_mlp = next(c for c in calls if c["block"] == "time_mlp")
    assert time_mlp["sources"] == [{"block": "(input)", "via": "input"}]       # t was passed as a tensor


@pytest.mark.parametrize("style, n_skips, dashed, n_rings, n_arrows", [("seed", 4, False, 0, 1),
                                                                        ("modern", 6, True, 11, 0)])
def test_plot_trace_draws_the_skips_and_marks_where_the_embedding_enters(style, n_skips, dashed, n_rings, n_arrows):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from helpers.viz.unet_diagram import plot_trace

    calls = trace_shapes(UNet(**SMALL[style]).eval(), torch.zeros(1, 1, 28, 28), 0)
    ax = plot_trace(calls).axes[0]
    arcs = [line for line in ax.lines if line.get_gid() == "skip"]
    assert len(arcs) == n_skips and {line.get_linestyle() for line in arcs} == {"--" if dashed else "-"}
    steps = {c["block"]: c["step"] for c in calls}
    for arc, skip in zip(arcs, skip_connections(calls)):     # each arc starts at its encoder map, ends before its block
        x = arc.get_xdata()
        assert x[0] == steps[skip["from"]] and steps[skip["to"]] - 1 < x[-1] < steps[skip["to"]]
    rings = [c for c in ax.collections if c.get_gid() == "embedding-ring"]
    assert sum(len(r.get_offsets()) for r in rings) == n_rings
    assert len([a for a in ax.texts if a.get_gid() == "embedding"]) == n_arrows
    labels = ax.get_legend().get_texts()
    assert any(("concatenated" if dashed else "added") in t.get_text() for t in labels)
    plt.close(ax.figure)


def test_blocks_changed_same_inputs_and_different_paths():
    model = UNet(num_classes=10, **SMALL["seed"]).eval()
    x = torch.zeros(1, 1, 28, 28)
    rows = blocks_changed(model, (x, 5), (x, 5))
    assert len(rows) == 11 and not any(r["changed"] for r in rows)

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x, flag):
            return self.a(x) if flag else self.b(x)

    with pytest.raises(ValueError, match="different blocks"):
        blocks_changed(Branchy(), (torch.zeros(1, 2), True), (torch.zeros(1, 2), False))


def test_parameter_table_in_call_order():
    model = UNet(num_classes=10, **SMALL["seed"])
    calls = trace_shapes(model, torch.zeros(1, 1, 28, 28), 0)
    rows = parameter_table(model, order=calls)
    assert [r["block"] for r in rows[:-1]] == [c["block"] for c in calls]     # every block runs once here
    plain = parameter_table(model)
    assert [r["block"] for r in plain[:3]] == ["down_convs.0", "down_convs.1", "down_samples.0"]
    partial = parameter_table(model, order=["middle"])
    assert partial[0]["block"] == "middle" and partial[1]["block"] == "down_convs.0"
    assert sorted(r["params"] for r in rows) == sorted(r["params"] for r in plain)


def test_unconditional_branch_is_the_null_label_prediction_alone():
    torch.manual_seed(0)
    model = _perturb_conv_out(UNet(num_classes=10, **SMALL["modern"])).eval()
    with torch.no_grad():  # a trained-looking null row: the fold must carry it, not a zero
        model.class_embed.weight.normal_()
    branch = unconditional_branch(model)
    x, t = _batch(model, b=4)
    with torch.no_grad():
        expected, got = model(x, t, torch.full((4,), 10)), branch(x, t)
        other = model(x, t, torch.full((4,), 3))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert (got - other).abs().max() > 1e-3  # the null label's prediction, not any label's
    assert branch.num_classes is None and branch.class_embed is None and not branch.training
    assert branch.config == {**model.config, "num_classes": None}
    assert count_parameters(model) - count_parameters(branch) == 11 * model.class_embed.embedding_dim
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # a copy: training the branch leaves the conditional network as it was
        for p in branch.parameters():
            p.add_(1.0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("model", [UNet(**SMALL["modern"]), UNet(num_classes=10, **SMALL["seed"])],
                         ids=["unconditional", "seed"])
def test_unconditional_branch_needs_a_conditional_modern_unet(model):
    with pytest.raises(ValueError, match="model must be a class-conditional ModernUNet"):
        unconditional_branch(model)
