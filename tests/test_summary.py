"""Nearest neighbours, the memorisation check and the evaluation summary (notebook 09)."""

import pytest
import torch

from helpers.data import load_dataset, to_float
from helpers.metrics import QualityEvaluator, memorisation_check, nearest_neighbours
from helpers.schedules import DiffusionSchedule
from helpers.summary import accuracy_se, evaluate, reference_images, references, summary_table
from helpers.unet import UNet


def test_nearest_neighbours_agree_with_brute_force():
    gen = torch.Generator().manual_seed(0)
    ref = torch.rand(300, 1, 6, 6, generator=gen) * 2 - 1
    q = torch.rand(37, 1, 6, 6, generator=gen) * 2 - 1
    d, idx = nearest_neighbours(q, ref, k=3, batch_size=10, chunk_size=64)  # several batches and chunks
    full = torch.cdist(q.flatten(1).double(), ref.flatten(1).double())
    want_d, want_idx = full.topk(3, dim=1, largest=False)
    assert d.shape == idx.shape == (37, 3)
    assert torch.equal(idx, want_idx)
    assert torch.allclose(d.double(), want_d, atol=1e-5)
    assert (d[:, 1:] >= d[:, :-1]).all()


def test_nearest_neighbours_find_exact_copies_of_uint8_references():
    ref = torch.randint(0, 256, (50, 1, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    copies = to_float(ref[[7, 3, 41]])
    d, idx = nearest_neighbours(copies, ref, chunk_size=16)
    assert idx[:, 0].tolist() == [7, 3, 41]
    assert d.max() < 1e-6


@pytest.mark.parametrize("q_shape, r_shape, k", [((4, 1, 5, 5), (9, 1, 6, 6), 1), ((4, 25), (9, 25), 1),
                                                  ((4, 1, 5, 5), (9, 1, 5, 5), 0), ((4, 1, 5, 5), (9, 1, 5, 5), 10)])
def test_nearest_neighbours_reject_bad_input(q_shape, r_shape, k):
    with pytest.raises(ValueError, match="k must|queries and reference"):
        nearest_neighbours(torch.zeros(q_shape), torch.zeros(r_shape), k=k)


def test_memorisation_ratio_is_small_for_copies_and_near_one_for_fresh_images():
    gen = torch.Generator().manual_seed(2)
    train = torch.randint(0, 256, (400, 1, 6, 6), dtype=torch.uint8, generator=gen)
    test = torch.randint(0, 256, (100, 1, 6, 6), dtype=torch.uint8, generator=gen)
    copies = to_float(train[:100]) + 0.01 * torch.randn(100, 1, 6, 6, generator=gen)
    fresh = to_float(torch.randint(0, 256, (100, 1, 6, 6), dtype=torch.uint8, generator=gen))
    assert memorisation_check(copies, train, test)["ratio"] < 0.05
    assert 0.9 < memorisation_check(fresh, train, test)["ratio"] < 1.1


@pytest.fixture(scope="module")
def small_results():
    torch.manual_seed(0)
    model = UNet(style="modern", base_channels=8, channel_mult=(1, 2), attention=False, num_classes=10).eval()
    schedule = DiffusionSchedule.from_name("linear", 20)
    ev = QualityEvaluator("fashion-mnist", test_images=500)
    kw = dict(n=12, batch=6, steps=(2, 3), etas=(0.0, 1.0), scales=(0.0, 1.0, 3.0), guidance_steps=3,
              memorisation_steps=3, log=None)
    return evaluate(model, schedule, ev, **kw), evaluate(model, schedule, ev, **kw), ev


def test_evaluate_covers_every_setting_once_and_is_reproducible(small_results):
    res, again, ev = small_results
    settings = [(r["sampler"], r["steps"], r.get("eta")) for r in res["steps_rows"]]
    assert settings == [("ddim", 2, 0.0), ("ddim", 3, 0.0), ("ddim", 2, 1.0), ("ddim", 3, 1.0), ("ddpm", 20, None)]
    assert [r["guidance_scale"] for r in res["guidance_rows"]] == [0.0, 1.0, 3.0]
    # s = 1 at the guidance sweep's steps is the steps sweep's row, sampled once
    assert res["guidance_rows"][1] is res["steps_rows"][1]
    rows = res["steps_rows"] + res["guidance_rows"]
    assert all(r["n"] == 12 and 0 <= r["accuracy"] <= 1 for r in rows)
    assert all(r["accuracy_se"] == accuracy_se(r["accuracy"], 12) and r["kid_se"] > 0 for r in rows)
    # the samples are class-balanced (generate's labels 0, 1, …, 9, 0, 1), so are the references
    assert res["references_balanced"]
    assert (res["references"], res["references_kid"]) == references(ev, 12, seed=0, labels=torch.arange(12) % 10)
    assert sorted(res["references_kid"]) == ["blur", "floor", "grain"]
    assert res["memorisation"]["n"] == 12 and res["memorisation"]["ratio"] > 0
    assert summary_table(res) == summary_table(again)


def test_summary_table_lists_references_rows_and_memorisation(small_results):
    res = small_results[0]
    table = summary_table(res).splitlines()
    # header, rule, 3 references, 5 steps rows, 2 guided rows (s = 1 is not repeated), memorisation
    assert len(table) == 2 + 3 + 5 + 2 + 1
    assert all(line.count("|") == 5 for line in table)
    kid, se = res["references_kid"]["grain"]
    assert f"| {res['references']['grain']:.2f} | {kid:.1f} ± {se:.1f} |" in table[3]
    assert "class-balanced (floor)" in table[2]
    row = res["steps_rows"][0]
    acc = (f"{row['accuracy']:.1%} ± {row['accuracy_se']:.1%}" if 0 < row["accuracy"] < 1
           else f"{row['accuracy']:.1%} ({round(row['accuracy'] * 12)} of 12)")
    assert table[5].endswith(f"| {row['fid']:.2f} | {row['kid']:.1f} ± {row['kid_se']:.1f} | {acc} |")
    assert "DDPM, all 20 steps" in table[9]
    assert table[-1].startswith("| nearest-neighbour ratio") and f"{res['memorisation']['ratio']:.2f}" in table[-1]


def test_summary_table_shows_the_count_where_the_binomial_se_is_zero(small_results):
    res = {**small_results[0]}
    perfect = {**res["steps_rows"][0], "accuracy": 1.0, "accuracy_se": 0.0}
    res["steps_rows"] = [perfect] + res["steps_rows"][1:]
    assert summary_table(res).splitlines()[5].endswith("| 100.0% (12 of 12) |")


def test_accuracy_se_is_the_binomial_standard_error():
    assert accuracy_se(0.5, 100) == pytest.approx(0.05)
    assert accuracy_se(1.0, 160) == 0.0 and accuracy_se(0.0, 160) == 0.0
    with pytest.raises(ValueError):
        accuracy_se(0.5, 0)


def test_reference_images_follow_the_labels_or_the_evaluators_random_draw():
    train = load_dataset("fashion-mnist", "train")
    labels = torch.tensor([3, 3, 0, 7, 3, 1, 0, 9])
    images = reference_images("fashion-mnist", 8, seed=4, labels=labels)
    assert sorted(images) == ["blur", "floor", "grain"] and images["floor"].shape == (8, 1, 28, 28)
    # each floor image is a training image of the class asked for, none twice
    flat = train.images.flatten(1)
    floor = ((images["floor"] + 1) * 127.5).round().to(torch.uint8).flatten(1)
    match = [int((flat == x).all(1).nonzero()[0]) for x in floor]
    assert len(set(match)) == 8 and train.labels[match].tolist() == labels.tolist()
    assert (images["grain"] - images["floor"]).abs().max() > 0
    # without labels: the draw of QualityEvaluator.references, so the same scores
    ev = QualityEvaluator("fashion-mnist", test_images=500)
    kid = ev.references(20, seed=3, blur_sigma=1.0, metric="kid")
    assert references(ev, 20, seed=3) == (ev.references(20, seed=3, blur_sigma=1.0),
                                          {name: list(v) for name, v in kid.items()})
    # with labels: the same class-balanced draw as QualityEvaluator.references(labels=...), unlike the random one
    balanced = torch.arange(20) % 10
    kid = ev.references(20, seed=3, blur_sigma=1.0, metric="kid", labels=balanced)
    fid = ev.references(20, seed=3, blur_sigma=1.0, labels=balanced)
    assert references(ev, 20, seed=3, labels=balanced) == (fid, {name: list(v) for name, v in kid.items()})
    assert fid != ev.references(20, seed=3, blur_sigma=1.0)
    with pytest.raises(ValueError, match=r"labels must be a tensor of shape \[8\]"):
        reference_images("fashion-mnist", 8, labels=labels[:5])
    with pytest.raises(ValueError, match=rf"n must be an int with 1 <= n <= {len(train)}"):
        ev.references(len(train) + 1)
    held = int((train.labels == 0).sum())  # 6,000, or fewer in the packaged subset a machine without the data uses
    too_many = rf"labels: class 0 asked for {held + 1} images, the training set holds {held}$"
    with pytest.raises(ValueError, match=too_many):
        ev.references(held + 1, labels=torch.zeros(held + 1, dtype=torch.long))
