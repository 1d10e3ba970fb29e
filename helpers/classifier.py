"""A small CNN classifier per dataset, the feature extractor behind "FID in classifier space".

Trained on the real training set by ``python -m helpers.classifier --dataset fashion-mnist``;
the weights ship inside helpers (helpers/assets/classifier-<dataset>.pt, float16).
"""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import iterate_batches, load_dataset, to_float
from .storage import atomic_save, pack_weights, torch_load, unpack_weights


class Classifier(nn.Module):
    """conv32-conv32-pool-conv64-conv64-pool-fc(feature_dim)-fc(num_classes); features = the fc layer."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, feature_dim: int = 128, image_size: int = 28):
        super().__init__()
        self.config = dict(in_channels=in_channels, num_classes=num_classes, feature_dim=feature_dim,
                           image_size=image_size)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (image_size // 4) ** 2, feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations [B, feature_dim] for images in [−1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def classifier_path(dataset: str) -> Path:
    return Path(str(resources.files("helpers.assets").joinpath(f"classifier-{dataset}.pt")))


def load_classifier(dataset: str = "fashion-mnist", device="cpu") -> Classifier:
    """The shipped classifier for ``dataset`` ("fashion-mnist" or "mnist"), eval mode."""
    path = classifier_path(dataset)
    if not path.is_file():
        raise ValueError(f"no shipped classifier for dataset={dataset!r}; train one with "
                         f"python -m helpers.classifier --dataset {dataset}")
    obj = torch_load(path)
    model = Classifier(**obj["config"])
    model.load_state_dict(unpack_weights(obj["weights"]))
    model.metadata = obj["metadata"]
    return model.to(device).eval()


@torch.no_grad()
def predict(model: Classifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels for float images in [−1, 1]."""
    dev = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch_size].to(dev)).argmax(1).cpu()
                      for i in range(0, images.shape[0], batch_size)])


def train_classifier(dataset: str = "fashion-mnist", epochs: int = 4, batch_size: int = 128, lr: float = 2e-3,
                     seed: int = 0, log=print) -> tuple[Classifier, dict]:
    """Adam on the real training set with random shifts of up to 2 pixels; returns (model, metadata)."""
    torch.manual_seed(seed)
    train_set, test_set = load_dataset(dataset, "train"), load_dataset(dataset, "test")
    model = Classifier(train_set.images.shape[1], len(train_set.classes), image_size=train_set.images.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(train_set) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        for idx in iterate_batches(len(train_set), batch_size, generator=gen):
            x = to_float(train_set.images[idx])
            dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
            x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
            loss = F.cross_entropy(model(x), train_set.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        acc = (predict(model, to_float(test_set.images)) == test_set.labels).float().mean().item()
        log(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f}")
    metadata = {"dataset": dataset, "data_source": train_set.source, "subset": train_set.subset,
                "train_images": len(train_set), "epochs": epochs, "test_accuracy": round(acc, 4),
                "test_images": len(test_set), "train_minutes": round((time.time() - t0) / 60, 2)}
    return model.eval(), metadata


def save_classifier(model: Classifier, metadata: dict, path) -> None:
    """Write the classifier's weights (float16), its ``config`` and ``metadata`` to ``path``."""
    atomic_save({"config": model.config, "weights": pack_weights(model.state_dict()), "metadata": metadata}, path)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m helpers.classifier", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--out", default=None, help="default: the shipped location inside helpers/assets")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    model, metadata = train_classifier(args.dataset, args.epochs)
    out = args.out or classifier_path(args.dataset)
    save_classifier(model, metadata, out)
    print(f"saved {out}: {metadata}")


if __name__ == "__main__":
    main()
