"""Model factories for `picoml fit --data ... --model models.py:FACTORY` (examples/fit_own_data).

A factory is a plain function returning a torch.nn.Module; its ``search_space`` attribute lists,
for each keyword picoml may vary, the values to try (small to large: the teacher for
distillation takes the factory's defaults). ``epochs`` and ``batch_size`` are optional.
"""

import torch.nn as nn


def mlp(hidden: int = 32, layers: int = 2, features: int = 13, classes: int = 3) -> nn.Module:
    """A tabular classifier: ``layers`` hidden ReLU layers of ``hidden`` units."""
    mods, width = [], features
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*mods, nn.Linear(width, classes))


mlp.search_space = {"hidden": [4, 8, 16, 32], "layers": [1, 2]}
mlp.epochs = 40
mlp.batch_size = 16


def cnn1d(channels: int = 16, kernel: int = 5, length: int = 24, classes: int = 2) -> nn.Module:
    """A 1-D CNN for one-channel series: two convolutions, global average pooling, a classifier."""
    return nn.Sequential(
        nn.Conv1d(1, channels, kernel, padding=kernel // 2),
        nn.BatchNorm1d(channels),
        nn.ReLU(),
        nn.Conv1d(channels, channels, kernel, padding=kernel // 2),
        nn.BatchNorm1d(channels),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(channels, classes),
    )


cnn1d.search_space = {"channels": [4, 8, 16], "kernel": [3, 5]}
cnn1d.epochs = 30
cnn1d.batch_size = 16
