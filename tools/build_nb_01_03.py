# ruff: noqa: E501  (the notebooks' markdown is prose; their code cells are linted in notebooks/)
"""Write notebooks 01-03 (cells only, no outputs) from the text below.

    .venv/bin/python tools/build_nb_01_03.py          # then `make notebooks` (or nbconvert --execute) stores outputs

Editing the .ipynb files directly is fine too; this script is only a convenient way to write them.
"""

from __future__ import annotations

import sys

from nbtemplate import COLAB, code, md, write

# ====================================================================================== 01
NB01 = [
    md(r"""
# 01 · Noise schedules

A diffusion model destroys an image with a little Gaussian noise at every one of $T$ steps, then learns
to undo it. How much noise each step adds is the **noise schedule** $\beta_t$. Everything else in the
forward process follows from it.

**What you will learn**
- the three schedules used in practice: Ho et al.'s linear one, the report's rescaled linear one, and the cosine one;
- the quantities derived from $\beta_t$: $\alpha_t$, $\bar\alpha_t$, the signal and noise scales
  $\sqrt{\bar\alpha_t}$ and $\sqrt{1-\bar\alpha_t}$, and the log signal-to-noise ratio;
- how the number of steps $T$ changes the report's schedule, and why it rescales $\beta$ with $T$;
- why $\bar\alpha_{T-1}$ must be close to 0, and what goes wrong at sampling time when it is not.

[Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ (index $t$ is the
paper's step $t+1$); images are float tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.
"""),
    code(COLAB),
    code(r"""
%matplotlib inline
import math

import torch

from helpers import (QUICK, DiffusionSchedule, cosine_beta_schedule, linear_beta_schedule, report_beta_schedule,
                     sample_images)
from helpers.plotting import plot_curves, plot_image_table, plot_schedules, show_source
from helpers.widgets import schedule_explorer

print("quick mode" if QUICK else "full mode")
"""),
    md(r"""
## 1. One step of noise

The forward process is a Markov chain. Step $t$ shrinks the previous image a little and adds Gaussian noise
of variance $\beta_t$:

$$q(x_t \mid x_{t-1}) = \mathcal{N}\!\left(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\right).$$

The factor $\sqrt{1-\beta_t}$ keeps the variance from growing: if $x_{t-1}$ has unit variance, so does $x_t$.
A schedule is just the list $\beta_0, \dots, \beta_{T-1}$, each in $(0, 1)$.

## 2. Three schedules

- **Linear** (Ho et al., 2020): $\beta_t$ evenly spaced from $10^{-4}$ to $0.02$, designed for $T = 1000$.
- **The report's**: linear from $0.0003 \cdot s$ to $0.03 \cdot s$ with $s = 1000/T$, so at $T=300$
  (MNIST, Fashion-MNIST) $\beta$ runs from $0.001$ to $0.1$.
- **Cosine** (Nichol & Dhariwal, 2021): defined through $\bar\alpha$ rather than $\beta$,
  $$\bar\alpha(t) = \frac{f(t)}{f(0)},\quad f(t) = \cos^2\!\left(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\right),\quad
  \beta_t = \min\!\left(1 - \frac{\bar\alpha(t+1)}{\bar\alpha(t)},\ 0.999\right),\quad s = 0.008.$$
"""),
    code(r"""
show_source(linear_beta_schedule, report_beta_schedule, cosine_beta_schedule)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
schedules = {f"{name} T={T}": DiffusionSchedule.from_name(name, T)
             for T in (300, 1000) for name in ("linear", "report", "cosine")}
for label, s in schedules.items():
    print(f"{label:16s} beta_0 = {s.betas[0].item():.3e}   beta_T-1 = {s.betas[-1].item():.3e}")
"""),
    md(r"""
## 3. What follows from $\beta_t$

Chaining the steps gives the quantities every later notebook uses (the table `DiffusionSchedule` holds):

$$\alpha_t = 1 - \beta_t,\qquad \bar\alpha_t = \prod_{s \le t} \alpha_s,\qquad
q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\, I\right).$$

So $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$: $\sqrt{\bar\alpha_t}$ is how much of the
image is left (the signal scale) and $\sqrt{1-\bar\alpha_t}$ how much noise (the noise scale); their squares sum
to 1. Their ratio is the signal-to-noise ratio, best seen on a log scale:

$$\log \mathrm{SNR}_t = \log \frac{\bar\alpha_t}{1-\bar\alpha_t}.$$
"""),
    code(r"""
show_source(DiffusionSchedule.__init__)
"""),
    code(r"""
at_300 = {name: schedules[f"{name} T=300"] for name in ("linear", "report", "cosine")}
fig = plot_schedules(at_300, logy=("betas",), title="Three schedules at T = 300")
"""),
    md(r"""
Read the plots left to right, top to bottom:
- the report's $\beta_t$ is 5–10× Ho's at $T = 300$ (it was rescaled for 300 steps; Ho's was made for 1000);
- the report's $\bar\alpha_t$ falls fastest: the image is mostly gone by $t \approx 150$;
- the linear schedule at $T = 300$ **never gets there**: $\sqrt{\bar\alpha_{299}} \approx 0.22$, a fifth of the image is left;
- cosine's $\bar\alpha_t$ falls slowly and almost linearly in the middle, and its log-SNR is nearly a straight line
  until the very end, where the $0.999$ clip on $\beta$ sends it to (almost) zero.

At $T = 1000$, the schedule Ho's was designed for, the report's $\beta$ is 1.5–3× Ho's and both reach $\bar\alpha \approx 0$:
"""),
    code(r"""
at_1000 = {name: schedules[f"{name} T=1000"] for name in ("linear", "report", "cosine")}
fig = plot_schedules(at_1000, quantities=("betas", "alphas_cumprod", "log_snr"), logy=("betas",),
                     title="Three schedules at T = 1000")
"""),
    md(r"""
The first and last values of each schedule. $\log \mathrm{SNR}$ at the end tells you how much signal is left at
$t = T-1$: $-3$ means $\bar\alpha/(1-\bar\alpha) \approx e^{-3} \approx 0.05$, $-15$ means $3 \times 10^{-7}$.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print(f"{'schedule':16s} {'beta_0':>9s} {'beta_T-1':>9s} {'abar_0':>9s} {'abar_T-1':>9s} "
      f"{'sqrt abar_T-1':>13s} {'logSNR_0':>8s} {'logSNR_T-1':>10s}")
for label, s in schedules.items():
    print(f"{label:16s} {s.betas[0].item():9.2e} {s.betas[-1].item():9.2e} {s.alphas_cumprod[0].item():9.6f} "
          f"{s.alphas_cumprod[-1].item():9.2e} {s.sqrt_alphas_cumprod[-1].item():13.2e} "
          f"{s.log_snr[0].item():8.2f} {s.log_snr[-1].item():10.2f}")
"""),
    md(r"""
## 4. How $T$ changes the report's schedule

The report scales both ends of $\beta$ by $1000/T$. Why? Because what matters is the end point:

$$\log \bar\alpha_{T-1} = \sum_t \log(1 - \beta_t) \approx -\sum_t \beta_t \approx -T\cdot\frac{\beta_0 + \beta_{T-1}}{2}
= -\frac{0.3 + 30}{2} = -15.15,$$

whatever $T$ is. So every $T$ ends near $\bar\alpha_{T-1} \approx e^{-15.15} \approx 2.6\times10^{-7}$: fewer steps,
each one bigger. The approximation $\log(1-\beta) \approx -\beta$ is a little off when $\beta$ is large, which is
why $T = 300$ lands at $1.5\times10^{-7}$ rather than $2.6\times10^{-7}$. The rescaling breaks down below
$T = 31$: $\beta_{T-1} = 30/T$ reaches 1 and the step would erase the image in one go.
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print(f"limit for large T: exp(-(0.3 + 30)/2) = {math.exp(-(0.3 + 30) / 2):.2e}")
for T in (50, 100, 300, 1000, 4000):
    s = DiffusionSchedule(report_beta_schedule(T))
    print(f"T = {T:4d}: beta {s.betas[0].item():.2e} -> {s.betas[-1].item():.2e}, "
          f"sum(beta) = {s.betas.sum().item():6.2f}, abar_T-1 = {s.alphas_cumprod[-1].item():.2e}")
try:
    DiffusionSchedule(report_beta_schedule(20))
except ValueError as err:
    print("T =   20:", err)
"""),
    code(r"""
report_by_T = {f"T = {T}": DiffusionSchedule(report_beta_schedule(T)) for T in (50, 300, 1000, 4000)}
fig = plot_schedules(report_by_T, quantities=("alphas_cumprod", "log_snr"), normalize_t=True,
                     title="The report's schedule for several T, against t/T")
"""),
    md(r"""
Against $t/T$ the curves nearly coincide: changing $T$ changes how finely the same path is cut, not the path.

## 5. Where $\bar\alpha$ reaches 0, and why it matters

Sampling starts from pure noise, $x_{T-1} \sim \mathcal{N}(0, I)$, and runs the learned reverse steps down to $t = 0$.
During training, though, the model only ever sees
$x_{T-1} = \sqrt{\bar\alpha_{T-1}}\,x_0 + \sqrt{1-\bar\alpha_{T-1}}\,\varepsilon$. The two agree only if
$\bar\alpha_{T-1} \approx 0$. If it is not, training inputs at $t = T-1$ still carry a faint copy of the image
that the sampler's starting noise never has: the model has learned to rely on signal it will not get.

A way to measure the gap is the KL divergence between $q(x_{T-1} \mid x_0)$ and $\mathcal{N}(0, I)$, summed over pixels
(this is Ho et al.'s prior term $L_T$):

$$D_{\mathrm{KL}} = \tfrac12 \sum_{\text{pixels}} \left(\bar\alpha_{T-1} x_0^2 + (1-\bar\alpha_{T-1}) - 1 - \log(1-\bar\alpha_{T-1})\right)\ \text{nats}.$$
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
x0, _ = sample_images(1)  # the first packaged image
for label, s in schedules.items():
    a = s.alphas_cumprod[-1].item()
    kl = 0.5 * (a * x0.double() ** 2 + (1 - a) - 1 - math.log1p(-a)).sum().item()
    t_gone = int((s.alphas_cumprod < 1e-3).nonzero()[0]) if (s.alphas_cumprod < 1e-3).any() else None
    where = f"t = {t_gone:4d} ({t_gone / s.T:.0%} of T)" if t_gone is not None else "never"
    print(f"{label:16s} abar < 1e-3 from {where:20s} sqrt(abar_T-1) = {s.sqrt_alphas_cumprod[-1].item():.4f}   "
          f"KL to N(0,I) = {kl:.3g} nats")
"""),
    md(r"""
The linear schedule at $T = 300$ leaves a KL of about 14 nats per image; the others leave $10^{-4}$ nats or less.
You can see the leftover signal: below, $x_{T-1}$ for the same images and the same noise under each schedule,
and (second row of each pair) the average of $x_{T-1}$ over 64 noise draws, which cancels the noise and keeps
whatever signal is left.
"""),
    code(r"""
x0, _ = sample_images(6, seed=0)
g = torch.Generator().manual_seed(0)
noise = torch.randn((64,) + tuple(x0.shape), generator=g)
rows, labels = [], []
for name, s in at_300.items():
    a = s.alphas_cumprod[-1].item()
    x_last = math.sqrt(a) * x0 + math.sqrt(1 - a) * noise  # x_{T-1} for 64 noise draws
    rows += [x_last[0], x_last.mean(0)]
    labels += [f"{name}\nx_T-1", f"{name}\nmean of 64"]
fig = plot_image_table([x0] + rows, row_labels=["x_0"] + labels, cell=0.9)
"""),
    md(r"""
With the linear schedule at $T = 300$ the average of $x_{T-1}$ is still a recognisable garment; with the report's
and the cosine schedule it is flat grey. A model trained with the first one would be asked, at sampling time,
to denoise pure noise it has never seen at $t = T-1$.

## 6. Explore

Move the slider to change $T$ (the figure redraws when you release it).
"""),
    code(r"""
# NBVAL_IGNORE_OUTPUT
schedule_explorer(T=300)
"""),
    md(r"""
## Try it

- Change `(50, 100, 300, 1000, 4000)` in section 4 to include `31`: what is $\beta_{T-1}$, and what does one step do to the image?
- Build `DiffusionSchedule(linear_beta_schedule(300, beta_end=0.06))`: how large must `beta_end` be for $\bar\alpha_{T-1} < 10^{-4}$?
- Compare `cosine_beta_schedule(300, s=0.0)` with the default `s=0.008`: look at $\beta_0$ and $\log\mathrm{SNR}_0$.
- In the explorer, move $T$ from 50 to 2000: the report's $\bar\alpha_{T-1}$ creeps up towards $2.6\times10^{-7}$ while the cosine's falls. Why does the cosine end point depend on $T$ at all? (Hint: look at $\beta_{T-1}$.)

## Summary

- A schedule is the list $\beta_t$; everything else follows: $\alpha_t = 1-\beta_t$, $\bar\alpha_t = \prod_{s\le t}\alpha_s$,
  and $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$.
- The report rescales Ho's linear schedule by $1000/T$ so that $\bar\alpha_{T-1}$ stays near $10^{-7}$ for any $T > 30$
  ($\beta$ from 0.001 to 0.1 at $T=300$).
- $\bar\alpha_{T-1}$ must be close to 0, or the model is trained on inputs the sampler never produces:
  Ho's linear schedule needs $T \approx 1000$ for that.

**Next:** [02 · Forward noising](02_forward_noising.ipynb): sampling $x_t$ from $x_0$ in one step, and checking it against the chain.
"""),
]

# ====================================================================================== 02
NB02 = [
    md(r"""
# 02 · Forward noising

Notebook 01 chose how much noise each step adds. Here we add it: to real images, one step at a time and
in one jump, and check that the two agree.

**What you will learn**
- the closed form $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)$ and why it holds;
- how to sample it with the reparameterisation $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$;
- a Monte-Carlo check that the closed form and the step-by-step chain give the same distribution;
- how the pixel histogram of real images turns into $\mathcal{N}(0, 1)$.

[Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$; images are float
tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.
"""),
    code(COLAB),
    code(r"""
%matplotlib inline
import math

import torch

from helpers import (QUICK, DiffusionSchedule, q_sample, q_sample_chain, q_step, quick_or_full, sample_images)
from helpers.plotting import plot_curves, plot_histograms, plot_image_table, show_images, show_source
from helpers.widgets import forward_explorer

schedule = DiffusionSchedule.from_name("report", 300)  # the report's MNIST / Fashion-MNIST schedule
print("quick mode" if QUICK else "full mode")
"""),
    md(r"""
## 1. The chain, one step at a time

$$x_t = \sqrt{1-\beta_t}\;x_{t-1} + \sqrt{\beta_t}\;\varepsilon_t,\qquad \varepsilon_t \sim \mathcal{N}(0, I).$$

`q_step` is that line; `q_sample_chain` applies it $t+1$ times (steps $0, 1, \dots, t$) starting from $x_0$.
"""),
    code(r"""
show_source(q_step, q_sample_chain)
"""),
    md(r"""
## 2. The shortcut: the closed form

Two steps of the chain are a scaled copy of $x_{t-2}$ plus two independent Gaussians:

$$x_t = \sqrt{\alpha_t\alpha_{t-1}}\,x_{t-2} + \sqrt{\alpha_t\beta_{t-1}}\,\varepsilon_{t-1} + \sqrt{\beta_t}\,\varepsilon_t .$$

A sum of independent Gaussians is Gaussian, with the variances added:
$\alpha_t\beta_{t-1} + \beta_t = \alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$.
Repeating down to $x_0$:

$$q(x_t \mid x_0) = \mathcal{N}\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\,I\right)
\quad\Longleftrightarrow\quad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon .$$

Training needs $x_t$ at a random $t$ for every image in every batch; this makes it one multiply-add instead of $t+1$ steps.
"""),
    code(r"""
show_source(q_sample)
"""),
    md(r"""
## 3. Noising real images

Eight packaged Fashion-MNIST images, then $x_t$ for six of them at several $t$. Each row uses one fixed $\varepsilon$,
so you watch the same noise take over the same image.
"""),
    code(r"""
x0, y = sample_images(8, seed=0)
fig = show_images(x0, title="x_0: eight packaged Fashion-MNIST images")
"""),
    code(r"""
ts = [0, 10, 25, 50, 75, 100, 150, 299]
eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
rows = [torch.cat([q_sample(schedule, x0[i:i + 1], t, eps[i:i + 1]) for t in ts]) for i in range(6)]
labels = [f"t={t}\n√ᾱ={schedule.sqrt_alphas_cumprod[t].item():.2f}" for t in ts]
fig = plot_image_table(rows, col_labels=labels, title="x_t under the report's schedule (T = 300)")
"""),
    md(r"""
By $t = 100$ (a third of the way) only a shadow is left, in line with $\sqrt{\bar\alpha_{100}} \approx 0.41$;
at $t = 299$ there is nothing to see.

## 4. Closed form against the chain

Take four pixel values $x_0 \in \{-1, -0.3, 0.4, 1\}$, draw many $x_t$ both ways, and compare sample means and
variances with $\sqrt{\bar\alpha_t}\,x_0$ and $1-\bar\alpha_t$. With $n$ draws the standard error of a mean is
$\sigma/\sqrt n$ and of a variance $\sigma^2\sqrt{2/(n-1)}$; we accept a difference within 5 standard errors.
"""),
    code(r"""
n = quick_or_full(2_000, 20_000)
pixels = torch.tensor([-1.0, -0.3, 0.4, 1.0], dtype=torch.float64).reshape(1, 1, 1, 4)
ts_check = (0, 10, 50, 100, 200, 299)
g = torch.Generator().manual_seed(0)
closed = {t: q_sample(schedule, pixels.expand(n, -1, -1, -1), t, generator=g).reshape(n, 4) for t in ts_check}
chain = {t: q_sample_chain(schedule, pixels.expand(n, -1, -1, -1), t, generator=g).reshape(n, 4) for t in ts_check}
"""),
    code(r"""
# NBVAL_IGNORE_OUTPUT
print(f"n = {n} draws per t; estimates for x_0 = 1.0 (random: they change with n)")
print(f"{'t':>4s} {'mean closed':>12s} {'mean chain':>11s} {'var closed':>11s} {'var chain':>10s}")
for t in ts_check:
    c, m = closed[t][:, 3], chain[t][:, 3]
    print(f"{t:4d} {c.mean().item():12.4f} {m.mean().item():11.4f} {c.var().item():11.5f} {m.var().item():10.5f}")
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
def within(estimate, truth, se):
    return bool(((estimate - truth).abs() <= 5 * se).all())


print(f"{'t':>4s} {'sqrt(abar)':>10s} {'1-abar':>8s}   closed: mean var   chain: mean var")
for t in ts_check:
    a = schedule.alphas_cumprod[t]
    mean, var = a.sqrt() * pixels.flatten(), 1 - a
    se_mean, se_var = (var / n).sqrt(), var * math.sqrt(2 / (n - 1))
    ok = [within(d[t].mean(0), mean, se_mean) for d in (closed, chain)]
    ok_var = [within(d[t].var(0), var, se_var) for d in (closed, chain)]
    print(f"{t:4d} {a.sqrt().item():10.4f} {var.item():8.4f}   {ok[0]!s:>11s} {ok_var[0]!s:>4s} "
          f"{ok[1]!s:>12s} {ok_var[1]!s:>4s}")
"""),
    code(r"""
t_all = torch.arange(schedule.T)
curves = {f"√ᾱ_t·x_0, x_0={v:+.1f}": schedule.sqrt_alphas_cumprod * v for v in (-1.0, 0.4, 1.0)}
curves["1 − ᾱ_t (variance)"] = 1 - schedule.alphas_cumprod
fig = plot_curves(t_all, curves, title="Closed form (lines) against the chain (dots)")
ax = fig.axes[0]
for j, color in zip((0, 2, 3), ("C0", "C1", "C2")):
    ax.plot(ts_check, [chain[t][:, j].mean().item() for t in ts_check], "o", color=color, ms=5)
ax.plot(ts_check, [chain[t].var(0).mean().item() for t in ts_check], "s", color="C3", ms=5)
_ = ax.legend(fontsize=7, loc="center right")
"""),
    md(r"""
Every estimate from the chain lies within a few standard errors of the closed form, at every $t$: the one-jump
formula and $t+1$ small steps are the same distribution. (The test suite repeats this check with more draws
and also compares `q_sample` with diffusers' `DDPMScheduler.add_noise`.)

## 5. The pixel histogram turns into $\mathcal{N}(0, 1)$

All 500 packaged images: at $t = 0$ the pixel values pile up at $-1$ (the black background) and spread over the
garments; as $t$ grows the histogram slides towards the standard normal density (red). The mean and variance of
$x_t$ over the data follow from those of $x_0$:
$\mathbb{E}[x_t] = \sqrt{\bar\alpha_t}\,\mathbb{E}[x_0]$, $\mathrm{Var}[x_t] = \bar\alpha_t \mathrm{Var}[x_0] + 1-\bar\alpha_t$.
"""),
    code(r"""
x_all, _ = sample_images()
g = torch.Generator().manual_seed(2)
ts_hist = (0, 10, 30, 60, 100, 299)
x_ts = {t: q_sample(schedule, x_all, t, generator=g) for t in ts_hist}
fig = plot_histograms({f"t = {t}": x_ts[t] for t in ts_hist}, ncols=3)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
m0, v0 = x_all.double().mean().item(), x_all.double().var().item()
print(f"x_0: mean {m0:.3f}, variance {v0:.3f}")
for t in ts_hist:
    a = schedule.alphas_cumprod[t].item()
    x = x_ts[t].double()
    mean, predicted = round(x.mean().item(), 2) + 0.0, round(math.sqrt(a) * m0, 2) + 0.0  # + 0.0: no "-0.00"
    print(f"t = {t:3d}: mean {mean:+.2f} (predicted {predicted:+.2f}), "
          f"variance {x.var().item():.2f} (predicted {a * v0 + 1 - a:.2f})")
"""),
    md(r"""
By $t = 100$ the histogram is already near $\mathcal{N}(0,1)$ even though a shadow of the images is still visible:
a histogram of pixels cannot see structure *between* pixels, which is exactly what the model has to learn.

## 6. Explore

Move the slider over $t$ and switch schedules. The noise $\varepsilon$ is fixed, so only $t$ changes.
"""),
    code(r"""
# NBVAL_IGNORE_OUTPUT
forward_explorer(x0, T=300, schedule="report")
"""),
    md(r"""
If you are reading this without a running kernel, the widget above is empty; here is the same view for one image,
one row per schedule:
"""),
    code(r"""
tables = {name: DiffusionSchedule.from_name(name, 300) for name in ("linear", "report", "cosine")}
ts_static = [0, 25, 50, 100, 150, 200, 250, 299]
rows = [torch.cat([q_sample(s, x0[:1], t, eps[:1]) for t in ts_static]) for s in tables.values()]
fig = plot_image_table(rows, row_labels=list(tables), col_labels=[f"t={t}" for t in ts_static],
                       title="One image, one ε, three schedules (T = 300)")
"""),
    md(r"""
## Try it

- Change `ts` in section 3 to `[0, 1, 2, 3, 4, 5, 6, 7]`: how many steps until you notice the noise?
- In section 4 set `n = 200`: the standard errors grow, and the check still passes; set the tolerance to 1 standard error instead of 5 and see how often it fails.
- Replace `schedule` by `DiffusionSchedule.from_name("linear", 300)` and re-run section 5: what does the histogram at $t = 299$ look like?
- In the explorer, pick `linear` and move to $t = 299$: can you still make out the garments?

## Summary

- $q(x_t \mid x_0) = \mathcal{N}(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t)I)$: $x_t$ in one multiply-add, no loop over steps.
- The closed form and the step-by-step chain give the same means and variances, within Monte-Carlo error.
- The pixel distribution of $x_t$ moves to $\mathcal{N}(0, 1)$, with mean and variance predicted by $\bar\alpha_t$.

**Next:** [03 · The posterior](03_posterior.ipynb): going one step back, from $x_t$ to $x_{t-1}$, when $x_0$ is known.
"""),
]

# ====================================================================================== 03
NB03 = [
    md(r"""
# 03 · The posterior $q(x_{t-1} \mid x_t, x_0)$

To generate images we must run the chain backwards. One step back, $q(x_{t-1} \mid x_t)$, is intractable, but
if we also know $x_0$ it is a plain Gaussian that Bayes' rule gives in closed form. DDPM trains a network
to predict the noise $\varepsilon$, turns it into a guess $\hat x_0$, and plugs that guess into this posterior.

**What you will learn**
- the posterior mean $\tilde\mu_t$ (a weighted average of $x_0$ and $x_t$) and variance $\tilde\beta_t$;
- how the two weights and $\tilde\beta_t$ against $\beta_t$ behave over $t$;
- why the log-variance is clipped at $t = 0$;
- how $\hat x_0$ is computed from a noise prediction, and why errors in $\varepsilon$ blow up at large $t$;
- an empirical check: sampling the joint $(x_{t-1}, x_t)$ and recovering the posterior by regression.

[Conventions](../README.md#conventions): timesteps are 0-based, $t \in \{0, \dots, T-1\}$ with
$\bar\alpha_{-1} = 1$; images are float tensors `[B, C, H, W]` in $[-1, 1]$; schedules are float64.
"""),
    code(COLAB),
    code(r"""
%matplotlib inline
import math

import matplotlib.pyplot as plt
import torch

from helpers import (QUICK, DiffusionSchedule, predict_eps_from_x0, predict_x0_from_eps, q_posterior_mean_variance,
                     q_sample, q_step, quick_or_full, sample_images)
from helpers.plotting import plot_curves, plot_histograms, plot_image_table, show_source

schedule = DiffusionSchedule.from_name("report", 300)
print("quick mode" if QUICK else "full mode")
"""),
    md(r"""
## 1. Bayes' rule, in closed form

$$q(x_{t-1} \mid x_t, x_0) \;\propto\; q(x_t \mid x_{t-1})\; q(x_{t-1} \mid x_0)
= \mathcal{N}(x_t;\ \sqrt{\alpha_t}\,x_{t-1}, \beta_t I)\;\mathcal{N}(x_{t-1};\ \sqrt{\bar\alpha_{t-1}}\,x_0, (1-\bar\alpha_{t-1}) I).$$

As a function of $x_{t-1}$ both factors are Gaussian, so their product is: precisions add
($\frac{\alpha_t}{\beta_t} + \frac{1}{1-\bar\alpha_{t-1}} = \frac{1-\bar\alpha_t}{\beta_t(1-\bar\alpha_{t-1})}$) and the
mean is the precision-weighted average. Written out:

$$q(x_{t-1} \mid x_t, x_0) = \mathcal{N}\!\left(\tilde\mu_t,\ \tilde\beta_t I\right),\qquad
\tilde\mu_t = \underbrace{\frac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t}}_{\text{coef}_1}\,x_0
            + \underbrace{\frac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t}}_{\text{coef}_2}\,x_t,\qquad
\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$
"""),
    code(r"""
show_source(q_posterior_mean_variance)
"""),
    md(r"""
## 2. The coefficients over $t$

At small $t$ the posterior leans on $x_0$ (coef$_1$ near 1: $x_{t-1}$ is almost $x_0$); at large $t$ on $x_t$
(coef$_2 \to \sqrt{\alpha_t}$: knowing where the chain is now tells you more than the distant $x_0$).
$\tilde\beta_t$ is always at most $\beta_t$, because knowing $x_0$ can only reduce uncertainty; the two meet as
$\bar\alpha_t \to 0$. (coef$_2 = \sqrt{\alpha_t}\,\tilde\beta_t/\beta_t$, so those two curves nearly coincide.)
The $t$ axis is logarithmic beyond $t = 1$: everything interesting happens in the first few steps.
"""),
    code(r"""
t_all = torch.arange(schedule.T)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
plot_curves(t_all, {r"coef$_1$ (weight on $x_0$)": schedule.posterior_mean_coef1,
                    r"coef$_2$ (weight on $x_t$)": schedule.posterior_mean_coef2,
                    r"$\tilde\beta_t / \beta_t$": schedule.posterior_variance / schedule.betas}, ax=left, logx=True,
            title="Posterior coefficients (report, T = 300)")
plot_curves(t_all, {r"$\beta_t$ (forward step variance)": schedule.betas,
                    r"$\tilde\beta_t$ (posterior variance)": schedule.posterior_variance}, ax=right, logx=True,
            logy=True, title=r"$\tilde\beta_t \leq \beta_t$")
fig.tight_layout()
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
print(f"{'t':>4s} {'beta_t':>9s} {'beta~_t':>9s} {'ratio':>6s} {'coef1':>7s} {'coef2':>7s} {'sqrt(alpha_t)':>13s}")
for t in (0, 1, 2, 10, 50, 100, 200, 299):
    s = schedule
    print(f"{t:4d} {s.betas[t].item():9.2e} {s.posterior_variance[t].item():9.2e} "
          f"{(s.posterior_variance[t] / s.betas[t]).item():6.3f} {s.posterior_mean_coef1[t].item():7.4f} "
          f"{s.posterior_mean_coef2[t].item():7.4f} {s.alphas[t].sqrt().item():13.4f}")
"""),
    md(r"""
## 3. $t = 0$: a variance of zero, and the clipped log

At $t = 0$ the "previous" image is $x_0$ itself ($\bar\alpha_{-1} = 1$), so the posterior is a point mass:
coef$_1 = 1$, coef$_2 = 0$, $\tilde\beta_0 = 0$. That is why the last sampling step adds no noise and returns $\hat x_0$.
Its log would be $-\infty$; code that works with $\log\tilde\beta$ (the likelihood, learned variances) uses the
clipped value $\log\tilde\beta_1$ at $t=0$, as Ho et al. do (the report clamps $\tilde\beta$ at $10^{-20}$ instead).
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
s = schedule
print("beta~_0, beta~_1, beta~_2           :", [f"{v:.3e}" for v in s.posterior_variance[:3].tolist()])
print("log-variance clipped, t = 0, 1, 2   :", [f"{v:.4f}" for v in s.posterior_log_variance_clipped[:3].tolist()])
print("log beta~_1                         :", f"{math.log(s.posterior_variance[1].item()):.4f}")
print("coef1, coef2 at t = 0               :",
      f"{s.posterior_mean_coef1[0].item():.4f}, {s.posterior_mean_coef2[0].item():.4f}")
"""),
    md(r"""
## 4. $\hat x_0$ from a noise prediction

The network predicts $\varepsilon$, not $x_0$. Solving $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$ for $x_0$:

$$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}}
= \sqrt{1/\bar\alpha_t}\;x_t - \sqrt{1/\bar\alpha_t - 1}\;\hat\varepsilon,$$

and back, $\hat\varepsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0)/\sqrt{1-\bar\alpha_t}$. With the true $\varepsilon$ this
recovers $x_0$ exactly (up to float64 rounding).
"""),
    code(r"""
show_source(predict_x0_from_eps, predict_eps_from_x0)
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
x0, _ = sample_images(8, seed=0)
x0 = x0.double()
t = torch.arange(0, 300, 300 // 8)[:8]
eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
x_t = q_sample(schedule, x0, t, eps)
err_x0 = (predict_x0_from_eps(schedule, x_t, t, eps) - x0).abs().max().item()
err_eps = (predict_eps_from_x0(schedule, x_t, t, x0) - eps).abs().max().item()
print("t =", t.tolist())
print("round trip x_0 -> x_t -> x_0 exact to 1e-10:", err_x0 < 1e-10)
print("round trip eps -> x_t -> eps exact to 1e-10:", err_eps < 1e-10)
print("factor sqrt(1/abar_t - 1) on eps at t = 0, 100, 200, 299:",
      [f"{v:.3g}" for v in schedule.sqrt_recipm1_alphas_cumprod[[0, 100, 200, 299]].tolist()])
"""),
    md(r"""
The last line is the catch: an error $\delta$ in $\hat\varepsilon$ becomes an error $\sqrt{1/\bar\alpha_t - 1}\,\delta$ in
$\hat x_0$, and at $t = 299$ that factor is about 2500. Below, $\hat x_0$ from the true $\varepsilon$ and from
$\varepsilon$ with 10% error added: at large $t$ the guess leaves $[-1, 1]$ by far, which is why samplers clip
$\hat x_0$ to $[-1, 1]$.
"""),
    code(r"""
ts = [10, 50, 100, 150, 200, 299]
img = x0[:1].expand(len(ts), -1, -1, -1)
t = torch.tensor(ts)
eps = torch.randn(img.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
x_t = q_sample(schedule, img, t, eps)
noisy_eps = eps + 0.1 * torch.randn(img.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
x0_exact = predict_x0_from_eps(schedule, x_t, t, eps)
x0_noisy = predict_x0_from_eps(schedule, x_t, t, noisy_eps)
rows = [x_t, x0_exact, x0_noisy.clamp(-1, 1)]
fig = plot_image_table(rows, row_labels=["x_t", "x̂_0, true ε", "x̂_0, ε + 10%\n(clipped)"],
                       col_labels=[f"t={t}" for t in ts])
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
for tt, x in zip(ts, x0_noisy):
    print(f"t = {tt:3d}: x̂_0 from ε + 10% error spans [{x.min().item():8.1f}, {x.max().item():7.1f}]")
"""),
    md(r"""
## 5. An empirical check of the posterior

The formulas above came from algebra; here is a check from samples alone. Fix a pixel value $x_0$, draw
$x_{t-1} \sim q(x_{t-1} \mid x_0)$ with `q_sample`, then $x_t \sim q(x_t \mid x_{t-1})$ with one `q_step`.
That gives samples of the joint $(x_{t-1}, x_t)$ given $x_0$. Conditioning on an exact value of $x_t$ is impossible
with samples, but for jointly Gaussian variables the conditional mean is linear in $x_t$ and the conditional
variance is constant, so a least-squares line of $x_{t-1}$ on $x_t$ estimates both:

- slope $\to$ coef$_2$, intercept $\to$ coef$_1 \cdot x_0$, residual variance $\to \tilde\beta_t$.

Nothing in this check uses the posterior formulas; they only provide the values we compare with.
"""),
    code(r"""
n = quick_or_full(20_000, 200_000)
x0_value = 0.6
ts_check = (1, 10, 100, 299)
g = torch.Generator().manual_seed(0)
fits = {}
for t in ts_check:
    x0_t = torch.full((n, 1, 1, 1), x0_value, dtype=torch.float64)
    x_prev = q_sample(schedule, x0_t, t - 1, generator=g).flatten()
    x_t = q_step(schedule, x_prev.reshape(n, 1, 1, 1), t, generator=g).flatten()
    design = torch.stack([torch.ones_like(x_t), x_t], dim=1)
    intercept, slope = torch.linalg.lstsq(design, x_prev.unsqueeze(1)).solution.flatten()
    resid = x_prev - intercept - slope * x_t
    fits[t] = dict(x_prev=x_prev, x_t=x_t, intercept=intercept.item(), slope=slope.item(),
                   resid_var=resid.var().item(), sd_x_t=x_t.std().item(), mean_x_t=x_t.mean().item())
"""),
    code(r"""
# NBVAL_IGNORE_OUTPUT
print(f"n = {n} samples per t (random: the estimates change with n)")
print(f"{'t':>4s} {'slope':>8s} {'coef2':>8s} {'intercept':>10s} {'coef1*x0':>9s} {'resid var':>10s} {'beta~_t':>9s}")
for t, f in fits.items():
    print(f"{t:4d} {f['slope']:8.4f} {schedule.posterior_mean_coef2[t].item():8.4f} {f['intercept']:10.4f} "
          f"{schedule.posterior_mean_coef1[t].item() * x0_value:9.4f} {f['resid_var']:10.3e} "
          f"{schedule.posterior_variance[t].item():9.3e}")
"""),
    md(r"""
Whether each estimate is within 5 standard errors of the formula (standard errors of a least-squares line:
slope $\sigma/(\sqrt n\,\mathrm{sd}(x_t))$, intercept $\sigma\sqrt{(1 + \bar x_t^2/\mathrm{sd}(x_t)^2)/n}$,
residual variance $\sigma^2\sqrt{2/n}$):
"""),
    code(r"""
# NBVAL_CHECK_OUTPUT
for t, f in fits.items():
    var = schedule.posterior_variance[t].item()
    sigma = math.sqrt(var)
    se_slope = sigma / (math.sqrt(n) * f["sd_x_t"])
    se_icpt = sigma * math.sqrt((1 + f["mean_x_t"] ** 2 / f["sd_x_t"] ** 2) / n)
    ok_slope = abs(f["slope"] - schedule.posterior_mean_coef2[t].item()) <= 5 * se_slope
    ok_icpt = abs(f["intercept"] - schedule.posterior_mean_coef1[t].item() * x0_value) <= 5 * se_icpt
    ok_var = abs(f["resid_var"] - var) <= 5 * var * math.sqrt(2 / n)
    print(f"t = {t:3d}: slope ok {ok_slope}, intercept ok {ok_icpt}, residual variance ok {ok_var}")
"""),
    md(r"""
The same thing as a picture, at $t = 10$: the cloud of $(x_t, x_{t-1})$ samples, the posterior mean
$\tilde\mu_t(x_t)$ as a line and $\pm 2\sqrt{\tilde\beta_t}$ around it; and the histogram of $x_{t-1}$ for the samples
whose $x_t$ falls in a thin slice around $x_t = 0.8$, against $\mathcal{N}(\tilde\mu_t, \tilde\beta_t)$.
"""),
    code(r"""
t, x_slice = 10, 0.8
f = fits[t]
line_x = torch.linspace(f["x_t"].min().item(), f["x_t"].max().item(), 50, dtype=torch.float64)
mu = schedule.posterior_mean_coef1[t] * x0_value + schedule.posterior_mean_coef2[t] * line_x
band = 2 * schedule.posterior_variance[t].sqrt()
fig = plot_curves(line_x, {r"$\tilde\mu_t(x_t)$": mu, r"$\tilde\mu_t \pm 2\sqrt{\tilde\beta_t}$": mu + band},
                  xlabel="$x_t$", ylabel="$x_{t-1}$",
                  title=f"Samples of $(x_t, x_{{t-1}})$ given $x_0$ = {x0_value}, t = {t}")
ax = fig.axes[0]
ax.plot(line_x, mu - band, color="C1")
ax.scatter(f["x_t"][:3000], f["x_prev"][:3000], s=2, alpha=0.3, color="gray")
_ = ax.axvspan(x_slice - 0.01, x_slice + 0.01, color="C2", alpha=0.3)
"""),
    code(r"""
in_slice = (f["x_t"] - x_slice).abs() < 0.01
mu_slice = (schedule.posterior_mean_coef1[t] * x0_value + schedule.posterior_mean_coef2[t] * x_slice).item()
sd = schedule.posterior_variance[t].sqrt().item()
label = f"$x_{{t-1}}$ given $x_t$ ≈ {x_slice} ({int(in_slice.sum())} samples)"
fig = plot_histograms({label: f["x_prev"][in_slice]},
                      mean=mu_slice, std=sd, bins=30, value_range=(mu_slice - 4 * sd, mu_slice + 4 * sd),
                      density_label=r"$\mathcal{N}(\tilde\mu_t, \tilde\beta_t)$")
"""),
    md(r"""
## Try it

- Change `x0_value` to `-1.0` (a background pixel) and re-run section 5: which fitted number changes, and which do not?
- Replace `0.1 *` by `0.01 *` in the $\hat x_0$ cell: from which $t$ on is $\hat x_0$ still unusable without clipping?
- Re-run the coefficient table with `DiffusionSchedule.from_name("cosine", 300)`: where does $\tilde\beta_t/\beta_t$ get close to 1?
- Use `t = 299` in the scatter plot (it is in `fits`): the slope is nearly $\sqrt{\alpha_t}$ and $\tilde\beta_t \approx \beta_t$. Why does $x_0$ hardly matter there?

## Summary

- Given $x_0$, one step back is Gaussian: $\tilde\mu_t = \text{coef}_1\,x_0 + \text{coef}_2\,x_t$ and $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t \le \beta_t$.
- At $t = 0$ the posterior is $x_0$ itself: variance 0, so the log-variance is clipped to $\log\tilde\beta_1$ and the last sampling step adds no noise.
- $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon)/\sqrt{\bar\alpha_t}$ inverts the forward process exactly, but multiplies errors in $\hat\varepsilon$ by up to $\sqrt{1/\bar\alpha_t - 1}$, hence clipping.
- Samples of the joint $(x_{t-1}, x_t)$ reproduce the posterior's mean and variance.

**Next:** [04 · The U-Net and the time embedding](04_unet_and_time_embedding.ipynb): the network that predicts $\varepsilon$.
"""),
]


def main(argv=None) -> None:
    names = {"01_noise_schedules.ipynb": NB01, "02_forward_noising.ipynb": NB02, "03_posterior.ipynb": NB03}
    wanted = set(argv or names)
    for name, cells in names.items():
        if name in wanted:
            print("wrote", write(name, cells))


if __name__ == "__main__":
    main(sys.argv[1:])
