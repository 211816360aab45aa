"""Write two DATA.npz files for `picoml fit --data` from data sets that ship inside packages
(nothing is downloaded): scikit-learn's wine (13 features, 3 classes; standardized with the
training statistics) and aeon's ItalyPowerDemand (24-step series, 2 classes; per-series
z-normalization). Neither is used by picoml's bundled tasks.

    python examples/fit_own_data/make_data.py OUT_DIR
"""

import sys
from pathlib import Path

import numpy as np


def wine(out: Path, seed: int = 0) -> Path:
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.int64)
    cut = int(0.75 * len(x))
    mean, std = x[:cut].mean(0), x[:cut].std(0) + 1e-6
    x = (x - mean) / std
    path = out / "wine.npz"
    np.savez(path, x_train=x[:cut], y_train=y[:cut], x_test=x[cut:], y_test=y[cut:])
    return path


def italy_power(out: Path) -> Path:
    from aeon.datasets import load_classification

    def part(split: str):
        x, y = load_classification("ItalyPowerDemand", split=split)
        x = np.asarray(x, dtype=np.float32)  # (N, 1, 24)
        x = (x - x.mean(axis=2, keepdims=True)) / (x.std(axis=2, keepdims=True) + 1e-6)
        return x, np.asarray([int(v) - 1 for v in y], dtype=np.int64)

    x_train, y_train = part("train")
    x_test, y_test = part("test")
    path = out / "italy_power.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/fit_own_data")
    out.mkdir(parents=True, exist_ok=True)
    for p in (wine(out), italy_power(out)):
        print(p)
