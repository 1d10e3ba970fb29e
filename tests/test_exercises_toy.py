"""helpers.exercises.toy's notebook-10 checkers: check_mixture_eps (element-wise, names each mistake) and
check_toy_training (graded by the samples of the network the function trains)."""

import math

import pytest
import torch

from helpers.exercises import NOT_IMPLEMENTED, check_mixture_eps, check_toy_training


def mixture_eps_with(sqrt_abar=True, noise_factor=True, power=1.0, var="right", resp="softmax", density_dim=None,
                     out="eps"):
    """A student's E[ε | x_t] for x_t [n, D], ᾱ [n, 1], μ [K, D], ς [K], w [K], right or with one mistake."""
    def fn(x_t, abar, means, stds, weights):
        D = x_t.shape[1]
        v = {"right": abar * stds**2 + 1 - abar, "no_abar": stds**2 + 1 - abar, "std": abar * stds + 1 - abar,
             "points": (1 - abar).expand(-1, len(stds))}[var]
        diff = x_t[:, None, :] - (abar.sqrt() if sqrt_abar else abar)[:, :, None] * means
        dim = D if density_dim is None else density_dim
        log_n = -0.5 * (diff.pow(2).sum(-1) / v + dim * torch.log(2 * math.pi * v))
        if resp == "softmax":
            r = torch.softmax(weights.log() + log_n, dim=1)
        elif resp == "naive":  # right, but without logs: 0/0 where the densities underflow
            p = weights * log_n.exp()
            r = p / p.sum(1, keepdim=True)
        elif resp == "unnormalised":
            r = weights * log_n.exp()
        else:
            r = weights.expand(len(x_t), -1)
        factor = (1 - abar).sqrt() if noise_factor else torch.ones_like(abar)
        eps_k = factor[:, :, None] * diff / v[:, :, None] ** power
        if out == "per_k":
            return eps_k
        eps = (r[:, :, None] * eps_k).sum(1)
        return {"eps": eps, "score": -eps / (1 - abar).sqrt(), "x0": (x_t - (1 - abar).sqrt() * eps) / abar.sqrt(),
                "minus": -eps, "float": eps.float()}[out]
    return fn


def test_mixture_eps_accepts_correct(capsys):
    check_mixture_eps(mixture_eps_with())
    assert "✓ mixture ε̂ is correct" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(noise_factor=False), "√(1 − ᾱ_t) is missing: E"),
    (dict(power=0.5), "divided by √v_k"),
    (dict(power=0.5, noise_factor=False), "missing and the division is by √v_k"),
    (dict(resp="unnormalised"), "not normalised"),
    (dict(resp="prior"), "prior weights"),
    (dict(sqrt_abar=False), "ᾱ_t used where √ᾱ_t belongs"),
    (dict(var="no_abar"), "v_k = ς_k² + 1 − ᾱ_t"),
    (dict(var="std"), "ς_k used where ς_k² belongs"),
    (dict(var="points"), "as a point"),
    (dict(density_dim=0), "normaliser"),
    (dict(density_dim=1), "normaliser"),
    (dict(out="score"), "score"),
    (dict(out="x0"), "Tweedie"),
    (dict(out="minus"), "sign"),
    (dict(out="per_k"), "[n, K, D]"),
    (dict(resp="naive"), "log"),
    (dict(out="float"), "float64"),
])
def test_mixture_eps_names_mistake(kwargs, phrase):
    with pytest.raises(AssertionError) as info:
        check_mixture_eps(mixture_eps_with(**kwargs))
    assert phrase in str(info.value), str(info.value)


def test_mixture_eps_stub_and_errors():
    def stub(*args):
        raise NotImplementedError("exercise")

    with pytest.raises(AssertionError) as info:
        check_mixture_eps(stub)
    assert str(info.value) == NOT_IMPLEMENTED
    with pytest.raises(AssertionError, match="missing `return`"):
        check_mixture_eps(lambda *args: None)


# Deliberate duplicate of notebook 10's exercise solution: the known-good input the checker must accept.
def good_training(mixture, schedule, generator):
    """The notebook's solution: 2,000 Adam steps of batch 512, 30 % of each batch's t below 30."""
    from helpers.toy_net import ToyEpsNet

    model = ToyEpsNet(hidden=128, depth=3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps, batch = 2000, 512
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    abar = schedule.alphas_cumprod.float()
    for _ in range(steps):
        x0 = mixture.sample(batch, generator=generator)
        t = torch.randint(0, schedule.T, (batch,), generator=generator)
        small = torch.rand(batch, generator=generator) < 0.3
        t = torch.where(small, torch.randint(0, 30, (batch,), generator=generator), t)
        eps = torch.randn(x0.shape, generator=generator)
        a = abar[t][:, None]
        loss = (model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t) - eps).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        decay.step()
    return model


def test_toy_training_accepts_a_good_training_run(capsys):
    check_toy_training(good_training)
    assert "✓ toy training is correct" in capsys.readouterr().out


def test_toy_training_rejects_an_untrained_or_short_run():
    from helpers.toy_net import ToyEpsNet, train_toy_model

    def short(mixture, schedule, generator):
        model = ToyEpsNet(hidden=64, depth=2)
        train_toy_model(model, mixture, schedule, steps=200, batch=256, generator=generator)
        return model

    with pytest.raises(AssertionError, match="too far from the mixture.*small t"):
        check_toy_training(short)
    with pytest.raises(AssertionError, match="too far from the mixture"):
        check_toy_training(lambda mixture, schedule, generator: ToyEpsNet())


def test_toy_training_rejects_section_3s_recipe():
    """The exercise asks to beat section 3's run (4,000 steps of batch 256, uniform t): at the checker's seeds 0–2
    7.0–9.4 % of its samples lie in the halo. At this seed their energy distance is within the limit (the checker
    passed it before the halo was checked); the halo share is not."""
    from helpers.toy_net import ToyEpsNet, train_toy_model

    def section_3(mixture, schedule, generator):
        model = ToyEpsNet(hidden=128, depth=3)
        train_toy_model(model, mixture, schedule, steps=4000, batch=256, generator=generator)
        return model

    with pytest.raises(AssertionError, match="^[0-9.]+% of your samples lie where .* a halo off the modes"):
        check_toy_training(section_3, seed=1)


@pytest.mark.parametrize("fn, phrase", [
    (lambda m, s, g: (_ for _ in ()).throw(NotImplementedError("exercise")), "not implemented yet"),
    (lambda m, s, g: None, "missing `return model`"),
    (lambda m, s, g: 3, "should return the trained network"),
    (lambda m, s, g: 1 / 0, "ZeroDivisionError"),
    (lambda m, s, g: (lambda x, t: x[:, :1]), "should return ε̂ of shape"),
])
def test_toy_training_explains_errors(fn, phrase):
    with pytest.raises(AssertionError, match=phrase.replace("(", r"\(").replace("[", r"\[")):
        check_toy_training(fn)


def test_checkers_leave_global_rng_alone():
    torch.manual_seed(7)
    before = torch.rand(3)
    torch.manual_seed(7)
    check_mixture_eps(mixture_eps_with())
    with pytest.raises(AssertionError):
        check_toy_training(lambda mixture, schedule, generator: (lambda x, t: torch.zeros_like(x)))
    assert torch.equal(torch.rand(3), before)
