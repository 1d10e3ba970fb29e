"""v-prediction: the target and conversions against their definitions and diffusers, the loss, and a v-trained
checkpoint that loads as an ε̂ model."""

import pytest
import torch

from helpers.data import ImageDataset, sample_images
from helpers.loss import diffusion_loss
from helpers.posterior import predict_x0_from_eps
from helpers.prediction import EpsilonFromV, predict_eps_from_v, v_target
from helpers.pretrained import export_training_checkpoint, load_checkpoint
from helpers.sampling import ddim_step
from helpers.schedules import DiffusionSchedule
from helpers.training import TrainConfig, train
from helpers.unet import UNet

TINY = {"style": "modern", "base_channels": 16, "channel_mult": (1, 2), "depth": 1, "attention": False}
T_SAMPLE = torch.tensor([0, 1, 150, 298, 299])


def draws(shape, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(shape, generator=g, dtype=dtype) * 2 - 1, torch.randn(shape, generator=g, dtype=dtype))


def test_v_target_and_eps_from_v_are_the_definitions(any_schedule):
    x0, eps = draws((5, 1, 4, 4))
    t = (T_SAMPLE * (any_schedule.T - 1)) // 299
    a = any_schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
    v = v_target(any_schedule, x0, t, eps)
    torch.testing.assert_close(v, a.sqrt() * eps - (1 - a).sqrt() * x0, rtol=0, atol=1e-12)
    # with the true v, the ε it gives is the noise, and the x̂_0 from that ε is x_0 (float64: exact to rounding)
    torch.testing.assert_close(predict_eps_from_v(any_schedule, x_t, t, v), eps, rtol=0, atol=1e-10)
    torch.testing.assert_close(predict_x0_from_eps(any_schedule, x_t, t, predict_eps_from_v(any_schedule, x_t, t, v)),
                               x0, rtol=0, atol=1e-8)


def test_v_target_matches_diffusers_get_velocity(report_schedule):
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDPMScheduler(num_train_timesteps=300, trained_betas=report_schedule.betas.numpy(),
                                    prediction_type="v_prediction")
    x0, eps = draws((5, 1, 4, 4), torch.float32)
    theirs = sched.get_velocity(x0, eps, T_SAMPLE)
    torch.testing.assert_close(v_target(report_schedule, x0, T_SAMPLE, eps), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_step_of_the_wrapped_v_matches_diffusers_v_prediction(eta):
    diffusers = pytest.importorskip("diffusers")
    sch = DiffusionSchedule.from_name("linear", 1000)
    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, trained_betas=sch.betas.numpy(), clip_sample=True,
                                    set_alpha_to_one=True, timestep_spacing="trailing",
                                    prediction_type="v_prediction")
    sched.set_timesteps(10)
    g = torch.Generator().manual_seed(1)
    for t in sched.timesteps.tolist()[:-1]:
        x_t, v, z = (torch.randn(2, 1, 4, 4, generator=g) * s for s in (2, 1, 1))
        eps = predict_eps_from_v(sch, x_t, t, v)  # what EpsilonFromV hands the sampler
        theirs = sched.step(v, t, x_t, eta=eta, variance_noise=z, use_clipped_model_output=True).prev_sample
        torch.testing.assert_close(ddim_step(sch, x_t, t, t - 100, eps, eta=eta, noise=z), theirs,
                                   rtol=1e-4, atol=1e-4)


def test_loss_is_the_mse_to_v():
    """The v loss of a network is its mean squared distance to v = √ᾱ ε − √(1−ᾱ) x_0 at the same t and ε."""
    sched = DiffusionSchedule.from_name("report", 300)
    torch.manual_seed(0)
    model = UNet(**TINY).eval()
    torch.nn.init.normal_(model.conv_out.weight, std=0.05)
    x0, _ = sample_images(16)
    loss = diffusion_loss(model, sched, x0, generator=torch.Generator().manual_seed(3), prediction="v_prediction")
    g = torch.Generator().manual_seed(3)  # the same draws, in the loss's order: t, then ε
    t = torch.randint(0, 300, (16,), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    a = sched.alphas_cumprod[t].float().view(-1, 1, 1, 1)
    with torch.no_grad():
        out = model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t)
    expected = (out - (a.sqrt() * eps - (1 - a).sqrt() * x0)).pow(2).mean()
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-7)
    plain = diffusion_loss(model, sched, x0, generator=torch.Generator().manual_seed(3))
    assert abs(plain.item() - loss.item()) > 1e-3  # the ε loss of the same draws is another number


def test_bad_prediction_is_refused_by_name():
    sched = DiffusionSchedule.from_name("report", 300)
    with pytest.raises(ValueError, match="prediction must be one of 'epsilon', 'v_prediction'; got 'v'"):
        diffusion_loss(UNet(**TINY), sched, torch.zeros(2, 1, 8, 8), prediction="v")
    with pytest.raises(ValueError, match="prediction must be one of"):
        TrainConfig(prediction="x0")


def test_a_v_trained_checkpoint_loads_as_an_eps_model(tmp_path):
    x, y = sample_images(32, as_uint8=True)
    data = ImageDataset("fashion-mnist", "train", x, y, classes=tuple(range(10)), source="sample")
    cfg = TrainConfig(epochs=1, batch_size=8, warmup_steps=2, model=TINY, conditional=True,
                      prediction="v_prediction")
    ckpt = train(cfg, tmp_path / "run.pt", progress=False, data=data, log=lambda m: None)
    export_training_checkpoint(ckpt, tmp_path / "v.pt")
    model, sched, meta = load_checkpoint(tmp_path / "v.pt")
    assert isinstance(model, EpsilonFromV) and meta["train_config"]["prediction"] == "v_prediction"
    assert (model.num_classes, model.in_channels, model.config) == (10, 1, model.net.config)
    x_t, t, labels = torch.randn(3, 1, 28, 28), torch.tensor([0, 100, 299]), torch.tensor([1, 2, 10])
    with torch.no_grad():
        v = model.net(x_t, t, labels)
        torch.testing.assert_close(model(x_t, t, labels), predict_eps_from_v(sched, x_t, t, v))
    # an ε run cannot start from v weights (nor the reverse): the same weights would mean another thing
    plain = TrainConfig(epochs=1, batch_size=8, warmup_steps=2, model=TINY, conditional=True,
                        init_from=str(tmp_path / "v.pt"))
    with pytest.raises(ValueError, match="predicts v_prediction; this run trains prediction='epsilon'"):
        train(plain, tmp_path / "run2.pt", progress=False, data=data, log=lambda m: None)
    again = TrainConfig(epochs=1, batch_size=8, warmup_steps=2, model=TINY, conditional=True,
                        prediction="v_prediction", init_from=str(tmp_path / "v.pt"))
    start = train(again, tmp_path / "run3.pt", progress=False, data=data, log=lambda m: None)
    assert start["state"]["init_from"]["checkpoint"] == str(tmp_path / "v.pt")


def test_float32_round_trip_through_eps_keeps_x0_within_its_stated_error(report_schedule):
    """x̂_0 derived by the samplers from the wrapper's float32 ε̂ is √ᾱ x_t − √(1−ᾱ) v̂ to within a few 1e-3 at
    every t, about 1e-4 on average at t = 299 (EpsilonFromV's docstring: float32 rounding of ε̂ times
    √(1−ᾱ)/√ᾱ, up to 2,500), and far closer where ᾱ is not tiny."""
    g = torch.Generator().manual_seed(2)
    t = torch.arange(300).repeat_interleave(4)
    x_t, v = torch.randn(1200, 1, 28, 28, generator=g), torch.randn(1200, 1, 28, 28, generator=g)
    a = report_schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
    exact = a.sqrt() * x_t.double() - (1 - a).sqrt() * v.double()
    err = (predict_x0_from_eps(report_schedule, x_t, t, predict_eps_from_v(report_schedule, x_t, t, v)).double()
           - exact).abs()
    assert err.max() < 5e-3 and err[t == 299].mean() < 2e-4 and err[t < 200].max() < 1e-4
