"""The probability-flow ODE sampler (Euler = DDIM η=0, Heun is second order) and the Karras σ spacing.

The data are x_0 ~ N(μ, diag(s²)) in two dimensions, whose exact ε̂ is closed form and whose ODE has a
closed-form solution: in Karras et al.'s variables σ = √((1−ᾱ)/ᾱ), z = x/√ᾱ, the flow dz/dσ = ε̂ is
dz/dσ = σ (z − μ)/(s² + σ²), so z(σ') − μ = (z(σ) − μ) √(s² + σ'²)/√(s² + σ²).
"""

import numpy as np
import pytest
import torch
from stand_in_models import GaussianOptimum  # tests/ is on sys.path under pytest
from torch import nn

from helpers.sampling import METHODS, SPACINGS, ddim_sample, ddim_timesteps, ode_sample
from helpers.schedules import DiffusionSchedule

F64 = torch.float64
U64 = torch.finfo(F64).eps
MU = torch.tensor([0.3, -0.5], dtype=F64)
S = torch.tensor([0.2, 0.6], dtype=F64)


class SigmaEps(nn.Module):
    """ε̂(x, t) = c σ_t, whatever x: dz/dσ = c σ, so z(σ') = z(σ) + c (σ'² − σ²)/2. The trapezoid rule
    (Heun) integrates this slope exactly; Euler misses c (σ' − σ)²/2 per step."""

    num_classes = None

    def __init__(self, schedule, c):
        super().__init__()
        self.sigma, self.c = ((1 - schedule.alphas_cumprod) / schedule.alphas_cumprod).sqrt(), c

    def forward(self, x, t):
        return self.c * self.sigma[t.cpu()].to(x.dtype).reshape(-1, *([1] * (x.dim() - 1))).expand_as(x)


class PointsConditional(nn.Module):
    """A class-conditional 'model' on points [B, 2] whose ε̂ depends on x, t and y; records batch sizes."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.num_classes = num_classes
        self.table = torch.randn(num_classes + 1, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
        self.batch_sizes = []

    def forward(self, x, t, y):
        self.batch_sizes.append(x.shape[0])
        return 0.5 * x * (1 + self.table[y]) + 1e-3 * t.to(x.dtype)[:, None]


def sigmas(schedule):
    return ((1 - schedule.alphas_cumprod) / schedule.alphas_cumprod).sqrt()


def points(n, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.fixture(scope="module")
def linear1000():
    return DiffusionSchedule.from_name("linear", 1000)


# ----------------------------------------------------------------------------------------------
# Euler is DDIM with η = 0
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("spacing", ["trailing", "linspace", "leading", "karras", "report"])
@pytest.mark.parametrize("name,T", [("report", 300), ("cosine", 1000)])
def test_euler_is_ddim_eta0(name, T, spacing, clip):
    sch = DiffusionSchedule.from_name(name, T)
    model = GaussianOptimum(sch, MU, S)
    x_T = points(64)
    steps = 20
    euler = ode_sample(model, sch, x_T, steps=steps, spacing=spacing, clip_x0=clip)
    # ode_sample always ends at σ = 0; for "report" ddim_sample must be told to (it ends at ᾱ_0 by default)
    ddim = ddim_sample(model, sch, x_T, steps=steps, eta=0.0, spacing=spacing, clip_x0=clip, final_alpha_one=True)
    # the same algebra in another order: each step rounds numbers as large as 1/√ᾱ_{T−1} (x/√ᾱ, x̂_0)
    tol = steps * U64 / sch.alphas_cumprod[-1].sqrt().item()
    torch.testing.assert_close(euler, ddim, rtol=0, atol=tol)
    heun = ode_sample(model, sch, x_T, steps=steps, spacing=spacing, clip_x0=clip, method="heun")
    assert (heun - ddim).abs().max() > 1e3 * tol  # the comparison can fail: Heun is another sampler


def test_euler_is_ddim_eta0_on_images(linear1000):
    model = GaussianOptimum(linear1000, 0.1, 0.4)
    x_T = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(2), dtype=F64)
    torch.testing.assert_close(ode_sample(model, linear1000, x_T, steps=10),
                               ddim_sample(model, linear1000, x_T, steps=10, clip_x0=False), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Heun: the trapezoid rule, second order, 2K − 1 model calls
# ----------------------------------------------------------------------------------------------

def test_heun_integrates_a_slope_linear_in_sigma_exactly(linear1000):
    c = 0.7
    model = SigmaEps(linear1000, c)
    x_T = points(8, seed=3)
    steps = 6
    sig = sigmas(linear1000)
    a = linear1000.alphas_cumprod
    z_T = x_T / a[-1].sqrt()
    _, traj = ode_sample(model, linear1000, x_T, steps=steps, method="heun", return_trajectory=True)
    # exact at every node up to t = 0: x_t = √ᾱ_t (z_T + c (σ_t² − σ_max²)/2)
    exact = torch.stack([a[t].sqrt() * (z_T + c * (sig[t] ** 2 - sig[-1] ** 2) / 2) for t in traj["t"]])
    torch.testing.assert_close(traj["x_t"], exact, rtol=1e-12, atol=1e-12)
    # Euler falls short by c (σ' − σ)²/2 per step: far from exact with 6 steps
    _, euler = ode_sample(model, linear1000, x_T, steps=steps, method="euler", return_trajectory=True)
    assert (euler["x_t"][-1] - exact[-1]).abs().min() > 1.0


def _error_at_sigma_min(schedule, method, steps):
    """max |x − exact| at t = 0 (σ_min), before the last step (always Euler) into σ = 0; and K."""
    model = GaussianOptimum(schedule, MU, S)
    x_T = points(64, seed=4)
    a, sig = schedule.alphas_cumprod, sigmas(schedule)
    z_T = x_T / a[-1].sqrt()
    exact = a[0].sqrt() * (MU + (z_T - MU) * ((S**2 + sig[0] ** 2) / (S**2 + sig[-1] ** 2)).sqrt())
    _, traj = ode_sample(model, schedule, x_T, steps=steps, method=method, spacing="karras", return_trajectory=True)
    assert traj["t"][-1] == 0
    return (traj["x_t"][-1] - exact).abs().max().item(), len(traj["t"])


@pytest.mark.parametrize("name,T", [("linear", 1000), ("report", 300)])
def test_heun_is_second_order_and_euler_first(name, T):
    sch = DiffusionSchedule.from_name(name, T)
    orders = {}
    for method in METHODS:
        errors, ks = zip(*(_error_at_sigma_min(sch, method, n) for n in (16, 32, 64, 128)))
        # the global error of an order-p method falls as K^−p: the log-log slope is −p
        orders[method] = -np.polyfit(np.log(ks), np.log(errors), 1)[0]
    # p ± 0.25: the observed slopes (≈ 0.96 and ≈ 2.15) still carry higher-order terms at 16 steps
    assert abs(orders["euler"] - 1) < 0.25 and abs(orders["heun"] - 2) < 0.25, orders
    assert orders["heun"] - orders["euler"] > 0.75, orders


def test_final_step_into_sigma_zero_is_euler_and_counts_calls(linear1000):
    model = GaussianOptimum(linear1000, MU, S)
    x_T = points(16, seed=5)
    for steps in (1, 2, 10):
        model.calls = 0
        ode_sample(model, linear1000, x_T, steps=steps, method="heun")
        assert model.calls == 2 * steps - 1  # no second evaluation on the step into σ = 0
        model.calls = 0
        ode_sample(model, linear1000, x_T, steps=steps, method="euler")
        assert model.calls == steps
    # one step from σ_max straight to σ = 0: Heun has nothing to average and is Euler
    torch.testing.assert_close(ode_sample(model, linear1000, x_T, steps=1, method="heun"),
                               ode_sample(model, linear1000, x_T, steps=1, method="euler"), rtol=0, atol=0)
    # "karras" may hold fewer than `steps` entries: 2K − 1 calls for its K entries
    k = len(ddim_timesteps(1000, 300, "karras", alphas_cumprod=linear1000.alphas_cumprod))
    assert k < 300
    model.calls = 0
    ode_sample(model, linear1000, x_T, steps=300, method="heun", spacing="karras")
    assert model.calls == 2 * k - 1


def test_trajectory_and_guidance(linear1000):
    model = PointsConditional()
    x_T, y = points(4, seed=6), torch.tensor([0, 1, 2, 3])
    out, traj = ode_sample(model, linear1000, x_T, steps=5, method="heun", y=y, guidance_scale=3.0,
                           return_trajectory=True)
    seq = ddim_timesteps(1000, 5)
    assert traj["t"].tolist() == seq.tolist() and traj["t_prev"].tolist() == seq[1:].tolist() + [-1]
    assert traj["x_t"].shape == traj["x0_hat"].shape == (5, 4, 2) and torch.equal(traj["x_t"][0], x_T)
    assert model.batch_sizes == [8] * 9  # one doubled pass ([x; x], [y; ∅]) per evaluation, 2·5 − 1
    assert not out.is_inference()
    # guided Euler is guided DDIM η = 0
    torch.testing.assert_close(ode_sample(model, linear1000, x_T, steps=5, y=y, guidance_scale=3.0),
                               ddim_sample(model, linear1000, x_T, steps=5, y=y, guidance_scale=3.0, clip_x0=False),
                               rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# the Karras spacing
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,T", [("linear", 1000), ("report", 300), ("cosine", 1000)])
@pytest.mark.parametrize("steps", [2, 5, 10, 50, 300])
def test_karras_spacing_shape(name, T, steps):
    sch = DiffusionSchedule.from_name(name, T)
    seq = ddim_timesteps(T, steps, "karras", alphas_cumprod=sch.alphas_cumprod)
    assert seq.dtype == torch.long and 2 <= len(seq) <= steps
    assert (seq.diff() < 0).all()  # descending, hence unique
    assert seq[0] == T - 1 and seq[-1] == 0  # σ_max is σ_{T−1}, σ_min is σ_0: both ends are training indices
    # each entry is the training index nearest in log σ to one of the targets
    # (σ_max^{1/ρ} + i/(n−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, and each target has its nearest index in seq
    log_sigma = sigmas(sch).log()
    root_max, root_min = sigmas(sch)[-1] ** (1 / 7), sigmas(sch)[0] ** (1 / 7)
    targets = 7 * (root_max + torch.linspace(0, 1, steps, dtype=F64) * (root_min - root_max)).log()
    hits = set()
    for g in targets:
        t = int(seq[(log_sigma[seq] - g).abs().argmin()])  # the closest entry of seq ...
        hits.add(t)
        # ... and no training index is closer: g lies within half the log-σ gap to either neighbour of t
        if t > 0:
            assert g - log_sigma[t] >= -(log_sigma[t] - log_sigma[t - 1]) / 2 - 1e-12
        if t < T - 1:
            assert g - log_sigma[t] <= (log_sigma[t + 1] - log_sigma[t]) / 2 + 1e-12
    assert hits == set(seq.tolist())


def test_karras_spacing_is_near_uniform_in_sigma_to_the_one_over_rho(linear1000):
    # with steps ≪ T no two targets share an index, and σ^{1/ρ} of the chosen indices is uniform up to the
    # rounding to an index: at most the local gap of σ^{1/ρ} between neighbouring indices
    seq = ddim_timesteps(1000, 10, "karras", alphas_cumprod=linear1000.alphas_cumprod)
    assert len(seq) == 10
    root = sigmas(linear1000) ** (1 / 7)
    uniform = torch.linspace(root[-1].item(), root[0].item(), 10, dtype=F64)
    gap = torch.maximum(root[seq] - root[(seq - 1).clamp(min=0)], root[(seq + 1).clamp(max=999)] - root[seq])
    assert ((root[seq] - uniform).abs() <= gap + 1e-12).all()
    assert (gap < 0.2 * (uniform[0] - uniform[1])).all()  # and that rounding is small beside the spacing itself


@pytest.mark.parametrize("name,T", [("linear", 1000), ("report", 300), ("cosine", 1000)])
@pytest.mark.parametrize("steps", [1, 5, 10, 25, 100, 300])
def test_karras_spacing_matches_diffusers(name, T, steps):
    diffusers = pytest.importorskip("diffusers")
    sch = DiffusionSchedule.from_name(name, T)
    ref = diffusers.DPMSolverMultistepScheduler(num_train_timesteps=T, trained_betas=sch.betas.numpy(),
                                                use_karras_sigmas=True)
    ref.alphas_cumprod = sch.alphas_cumprod.clone()  # our float64 ᾱ: compare the rule, not float32 rounding
    ref.set_timesteps(steps)
    # diffusers rounds the log-σ interpolated index (= nearest in log σ) and keeps duplicates
    theirs = torch.unique(ref.timesteps).flip(0)
    assert torch.equal(ddim_timesteps(T, steps, "karras", alphas_cumprod=sch.alphas_cumprod), theirs)


def test_samplers_take_the_karras_spacing(linear1000):
    model = GaussianOptimum(linear1000, MU, S)
    x_T = points(4, seed=7)
    _, traj = ddim_sample(model, linear1000, x_T, steps=10, spacing="karras", return_trajectory=True)
    assert torch.equal(traj["t"], ddim_timesteps(1000, 10, "karras", alphas_cumprod=linear1000.alphas_cumprod))


# ----------------------------------------------------------------------------------------------
# bad arguments
# ----------------------------------------------------------------------------------------------

def test_bad_arguments_raise(linear1000):
    model = GaussianOptimum(linear1000, MU, S)
    x = points(3)
    assert "karras" in SPACINGS and METHODS == ("euler", "heun")
    cases = [
        (lambda: ode_sample(model, linear1000, x, method="rk4"), r"^method\b.*'euler', 'heun'"),
        (lambda: ode_sample(model, linear1000, x, spacing="cosine"), r"^spacing\b.*'karras'"),
        (lambda: ode_sample(model, linear1000, x, steps=0), r"^steps\b"),
        (lambda: ode_sample(model, linear1000, x, steps=1001), r"^steps\b"),
        (lambda: ode_sample(model, linear1000, x[:, 0]), r"^x_T\b.*at least 2 dims"),
        (lambda: ode_sample(model, linear1000, x.long()), r"^x_T\b.*floating-point"),
        (lambda: ode_sample(model, linear1000, x, guidance_scale=2.0), r"^guidance_scale\b"),
        (lambda: ode_sample(model, linear1000, x, y=torch.tensor([0, 1, 2])), "unconditional"),
        (lambda: ddim_timesteps(1000, 10, "karras"), r"^alphas_cumprod\b.*karras"),
        (lambda: ddim_timesteps(1000, 10, "karras", alphas_cumprod=linear1000.alphas_cumprod[:10]),
         r"^alphas_cumprod\b"),
    ]
    for fn, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            fn()
    assert model.calls == 0  # every check comes before the first model call
