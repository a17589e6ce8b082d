"""The job itself: Adult data and its encoding, the MLP, local training and test accuracy.

The encoding is the one of `scripts/bench-learn`: numeric columns standardised with the mean
and (population) standard deviation of all training rows, categorical columns one-hot over
the categories seen in the training rows, sorted ('?' is a category): 108 inputs. Provider k
holds the k-th of `num_partitions` contiguous chunks of ceil(n / num_partitions) training
rows, in file order.
"""

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

NUMERIC = [0, 2, 4, 10, 11, 12]
CATEGORICAL = [1, 3, 5, 6, 7, 8, 9, 13]
LABEL = 14
INPUTS = 108


def read_rows(path: Path) -> list[list[str]]:
    """Non-empty lines not starting with '|', split on commas, fields stripped."""
    with open(path) as f:
        return [
            [field.strip() for field in line.split(",")]
            for line in f
            if line.strip() and not line.startswith("|")
        ]


class Encoder:
    """Standardisation and one-hot tables fitted on all training rows."""

    def __init__(self, train_rows: list[list[str]]):
        numeric = np.array([[float(r[c]) for c in NUMERIC] for r in train_rows])
        self.mean, self.std = numeric.mean(0), numeric.std(0)
        self.index = [
            {v: i for i, v in enumerate(sorted({r[c] for r in train_rows}))} for c in CATEGORICAL
        ]
        width = len(NUMERIC) + sum(len(ix) for ix in self.index)
        assert width == INPUTS, f"the encoding has {width} inputs, expected {INPUTS}"

    def encode(self, rows: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.zeros((len(rows), INPUTS), dtype=np.float32)
        numeric = np.array([[float(r[c]) for c in NUMERIC] for r in rows])
        x[:, : len(NUMERIC)] = (numeric - self.mean) / self.std
        offset = len(NUMERIC)
        for c, ix in zip(CATEGORICAL, self.index):
            for i, r in enumerate(rows):
                j = ix.get(r[c])  # a category absent from the training rows: all zeros
                if j is not None:
                    x[i, offset + j] = 1.0
            offset += len(ix)
        y = np.array([[r[LABEL].rstrip(".") == ">50K"] for r in rows], dtype=np.float32)
        return torch.from_numpy(x), torch.from_numpy(y)


@lru_cache(maxsize=1)
def _train(adult_dir: str) -> tuple[list[list[str]], Encoder]:
    if not adult_dir:
        raise ValueError("run config `adult-dir` is empty: set it to the directory of adult.data")
    rows = read_rows(Path(adult_dir) / "adult.data")
    return rows, Encoder(rows)


def load_partition(adult_dir: str, k: int, num_partitions: int):
    """Provider k's training rows, encoded: (x, y)."""
    rows, encoder = _train(adult_dir)
    size = math.ceil(len(rows) / num_partitions)
    return encoder.encode(rows[k * size : (k + 1) * size])


def load_test(adult_dir: str):
    """All of adult.test, encoded with the training tables: (x, y)."""
    _, encoder = _train(adult_dir)
    return encoder.encode(read_rows(Path(adult_dir) / "adult.test"))


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(INPUTS, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
    )


def get_weights(model: nn.Module) -> list[np.ndarray]:
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def set_weights(model: nn.Module, weights: list[np.ndarray]) -> None:
    keys = model.state_dict().keys()
    # SecAgg+ hands back float64 arrays: the model stays float32.
    model.load_state_dict(
        {k: torch.tensor(np.asarray(w), dtype=torch.float32) for k, w in zip(keys, weights)}
    )


def train(model, x, y, epochs: int, batch_size: int, lr: float, seed: int) -> float:
    """Plain SGD (no momentum) on BCE-with-logits, reshuffled each epoch; mean loss of the
    last epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        total, perm = 0.0, torch.randperm(x.shape[0], generator=gen)
        for s in range(0, x.shape[0], batch_size):
            b = perm[s : s + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[b]), y[b])
            loss.backward()
            opt.step()
            total += loss.item() * len(b)
    return total / x.shape[0]


@torch.no_grad()
def evaluate(model, x, y) -> tuple[float, float]:
    """(BCE loss, accuracy with the threshold logit > 0)."""
    model.eval()
    logits = model(x)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    accuracy = ((logits > 0).float() == y).float().mean().item()
    return loss, accuracy
