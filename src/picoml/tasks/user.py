"""A user's own task: data from a ``.npz`` file and a PyTorch model factory from a module.

``picoml fit --data DATA.npz --model MODULE:FACTORY`` (and ``picoml compress``) search the
user's model family on the user's data through the same code as the bundled tasks: a
``UserTask`` has the face of a task module (``METRIC``, ``INPUT_SHAPE``, ``EPOCHS``,
``QUICK_EPOCHS``, ``load(seed) -> Split``, ``build_model(**kwargs)``, ``SEARCH_SPACE``).

DATA.npz (``numpy.savez``; read with ``allow_pickle=False``, every declared size checked before
anything is read):

- ``x_train``, ``y_train``, ``x_test``, ``y_test``; optionally ``x_val``, ``y_val`` (otherwise
  a seeded 20 % of the training set, stratified for classification, becomes the validation set);
- inputs: float, in PyTorch layout ``(N, F)``, ``(N, C, L)`` or ``(N, C, H, W)``, already
  normalized as the model expects them (picoml does not normalize: put it in the data);
- labels: integers ``0 … K-1`` (classification, scored by accuracy) or floats (regression,
  scored by mean squared error; ``(N,)`` becomes ``(N, 1)``).

MODULE:FACTORY: MODULE is an importable module name or a path to a ``.py`` file; FACTORY a
callable in it that returns a ``torch.nn.Module`` taking a batch of inputs. Its keyword
arguments are searched over ``FACTORY.search_space`` (a dict mapping keyword names to non-empty
lists of values); other optional attributes: ``epochs`` (int, default 30) and ``batch_size``
(int, default 32). The module is the user's own code and runs as such.

A ``UserTaskSpec`` (two strings) is what travels to trial workers: each process loads the data
and the module once (``resolve``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from picoml.errors import InputError
from picoml.tasks.train import Split, stratified_split

#: a data file's arrays together may hold at most this many elements (8 bytes each at most)
MAX_ELEMENTS = 200_000_000
MAX_SEARCH_VALUES = 64  # values per searched keyword
DEFAULT_EPOCHS = 30
REQUIRED = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL = ("x_val", "y_val")


@dataclass(frozen=True)
class UserTaskSpec:
    """A user task by reference: the data file and ``MODULE:FACTORY`` (both as given)."""

    data: str
    model: str
    path: str = ""  # where a module name is looked up (the caller's working directory)

    @classmethod
    def of(cls, data: str | Path, model: str) -> UserTaskSpec:
        """A spec with absolute paths, so that worker processes elsewhere find the same files."""
        if not isinstance(model, str) or ":" not in model:
            raise InputError(f"--model {model!r}: expected MODULE:FACTORY (a module name or .py file, then a function)")
        mod, _, attr = model.rpartition(":")
        if mod.endswith(".py"):
            model = f"{Path(mod).resolve()}:{attr}"
        return cls(str(Path(data).resolve()), model, str(Path.cwd()))

    @property
    def name(self) -> str:
        return f"{Path(self.data).name} × {self.model}"


def _check_npz(path: Path) -> list[str]:
    """The member names of a .npz, after checking each declared size against the limits."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (OSError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: not a readable .npz file ({e})") from None
    total = 0
    names = []
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise InputError(f"{path}: member {info.filename!r} is not a .npy array")
        total += info.file_size
        names.append(info.filename[: -len(".npy")])
    if total > MAX_ELEMENTS * 8:
        raise InputError(f"{path}: its arrays declare {total:,} bytes (limit {MAX_ELEMENTS * 8:,})")
    return names


def _array(z: Any, path: Path, key: str) -> np.ndarray:
    try:
        a = z[key]
    except ValueError as e:  # object arrays need pickle, which is refused
        raise InputError(f"{path}: array {key!r} cannot be read without pickle ({e})") from None
    if a.dtype.kind not in "biuf" or a.ndim == 0:
        raise InputError(f"{path}: array {key!r} must be a numeric array with a sample axis, got {a.dtype} {a.shape}")
    if len(a) == 0:
        raise InputError(f"{path}: array {key!r} is empty")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError(f"{path}: array {key!r} holds NaN or infinity")
    return a


def load_data(path: str | Path, seed: int = 0) -> tuple[Split, str]:
    """The ``Split`` and metric (``accuracy`` or ``mse``) of a user's DATA.npz (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such data file")
    names = _check_npz(path)
    missing = [k for k in REQUIRED if k not in names]
    if missing:
        raise InputError(f"{path}: missing array(s) {', '.join(missing)} (needs x_train, y_train, x_test, y_test)")
    if ("x_val" in names) != ("y_val" in names):
        raise InputError(f"{path}: give both x_val and y_val, or neither")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: _array(z, path, k) for k in REQUIRED + OPTIONAL if k in names}
    ys = [arrays[k] for k in arrays if k.startswith("y_")]
    metric = "accuracy" if all(y.dtype.kind in "biu" for y in ys) else "mse"
    for part in ("train", "val", "test"):
        if f"x_{part}" not in arrays:
            continue
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if len(x) != len(y):
            raise InputError(f"{path}: x_{part} has {len(x)} samples, y_{part} {len(y)}")
        if x.shape[1:] != arrays["x_train"].shape[1:]:
            raise InputError(f"{path}: x_{part} samples are {x.shape[1:]}, x_train's {arrays['x_train'].shape[1:]}")
        if x.ndim not in (2, 3, 4):
            raise InputError(f"{path}: x_{part} must be (N, F), (N, C, L) or (N, C, H, W), got {x.shape}")
        if metric == "accuracy":
            if y.ndim != 1:
                raise InputError(f"{path}: y_{part} must hold one class index per sample, got shape {y.shape}")
            if y.min() < 0 or y.max() >= 1 << 16:
                raise InputError(f"{path}: y_{part} class indices must be in 0 … 65535")
            arrays[f"y_{part}"] = y.astype(np.int64)
        else:
            y = y.astype(np.float32)
            arrays[f"y_{part}"] = y[:, None] if y.ndim == 1 else y
        arrays[f"x_{part}"] = np.ascontiguousarray(x, dtype=np.float32)
    if "x_val" not in arrays:
        x, y = arrays["x_train"], arrays["y_train"]
        if len(x) < 5:
            raise InputError(f"{path}: x_train has {len(x)} samples; give x_val/y_val or at least 5 training samples")
        if metric == "accuracy":
            tr, va = stratified_split(y, (0.8, 0.2), seed)
        else:
            order = np.random.default_rng(seed).permutation(len(x))
            cut = int(round(0.8 * len(x)))
            tr, va = order[:cut], order[cut:]
        arrays.update(x_train=x[tr], y_train=y[tr], x_val=x[va], y_val=y[va])
    classes: tuple[str, ...] = ()
    if metric == "accuracy":
        k = int(max(int(arrays[f"y_{p}"].max()) for p in ("train", "val", "test"))) + 1
        classes = tuple(str(i) for i in range(k))
    split = Split(
        arrays["x_train"],
        arrays["y_train"],
        arrays["x_val"],
        arrays["y_val"],
        arrays["x_test"],
        arrays["y_test"],
        classes=classes,
        notes=f"{path.name}" + ("" if "x_val" in names else f"; validation: 20 % of x_train (seed {seed})"),
    )
    return split, metric


def load_factory(ref: str, path: str = "") -> Any:
    """``MODULE:FACTORY`` → the callable (MODULE a module name, looked up in ``path`` first, or a .py path)."""
    if not isinstance(ref, str) or ref.count(":") < 1:
        raise InputError(f"--model {ref!r}: expected MODULE:FACTORY (a module name or .py file, then a function)")
    mod_ref, _, attr = ref.rpartition(":")
    if not attr.isidentifier():
        raise InputError(f"--model {ref!r}: {attr!r} is not a Python name")
    try:
        if mod_ref.endswith(".py"):
            p = Path(mod_ref).resolve()
            if not p.is_file():
                raise InputError(f"--model {ref!r}: no such file {mod_ref}")
            name = f"picoml_user_{abs(hash(str(p)))}"
            spec = importlib.util.spec_from_file_location(name, p)
            if spec is None or spec.loader is None:
                raise InputError(f"--model {ref!r}: cannot load {mod_ref}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            where = path or str(Path.cwd())
            if where not in sys.path:
                sys.path.insert(0, where)
            module = importlib.import_module(mod_ref)
    except InputError:
        raise
    except Exception as e:  # the user's module failed to import: say which and why, in one line
        raise InputError(f"--model {ref!r}: importing {mod_ref} failed: {type(e).__name__}: {e}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InputError(f"--model {ref!r}: {mod_ref} has no callable {attr!r}")
    return factory


def check_search_space(ref: str, factory: Any) -> dict[str, list]:
    """The factory's ``search_space``: keyword → non-empty list of plain values it accepts."""
    space = getattr(factory, "search_space", None)
    if space is None:
        return {}
    if not isinstance(space, dict):
        raise InputError(f"--model {ref!r}: search_space must be a dict of lists, got {type(space).__name__}")
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    out: dict[str, list] = {}
    for k, vals in space.items():
        if not isinstance(k, str) or (k not in params and not takes_kwargs):
            raise InputError(f"--model {ref!r}: search_space key {k!r} is not a keyword argument of the factory")
        if not isinstance(vals, (list, tuple)) or not vals or len(vals) > MAX_SEARCH_VALUES:
            raise InputError(f"--model {ref!r}: search_space[{k!r}] must be a list of 1 … {MAX_SEARCH_VALUES} values")
        for v in vals:
            if not isinstance(v, (bool, int, float, str, type(None))):
                raise InputError(
                    f"--model {ref!r}: search_space[{k!r}] holds {type(v).__name__}; use int, float, str, bool or None"
                )
        out[k] = list(vals)
    return out


class UserTask:
    """A task-module look-alike over a user's data and factory."""

    def __init__(self, spec: UserTaskSpec, seed: int = 0) -> None:
        self.spec = spec
        self.name = spec.name
        self._split, self.METRIC = load_data(spec.data, seed)
        self.factory = load_factory(spec.model, spec.path)
        self.SEARCH_SPACE = check_search_space(spec.model, self.factory)
        self.INPUT_SHAPE = tuple(self._split.x_train.shape[1:])
        epochs = getattr(self.factory, "epochs", DEFAULT_EPOCHS)
        batch = getattr(self.factory, "batch_size", 32)
        for what, v in (("epochs", epochs), ("batch_size", batch)):
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 100_000:
                raise InputError(f"--model {spec.model!r}: {what} must be an integer 1 … 100000, got {v!r}")
        self.EPOCHS, self.BATCH_SIZE = epochs, batch
        self.QUICK_EPOCHS = max(1, epochs // 4)

    def load(self, seed: int = 0) -> Split:
        return self._split

    def build_model(self, **kwargs: Any) -> Any:
        try:
            model = self.factory(**kwargs)
        except Exception as e:
            raise InputError(
                f"--model {self.spec.model!r}: the factory failed for {kwargs}: {type(e).__name__}: {e}"
            ) from None
        if not hasattr(model, "parameters") or not callable(model):
            raise InputError(f"--model {self.spec.model!r}: the factory returned {type(model).__name__}, not a module")
        return model


@lru_cache(maxsize=4)
def resolve(spec: UserTaskSpec, seed: int = 0) -> UserTask:
    """The task of ``spec``, loaded once per process (trial workers call this per config)."""
    return UserTask(spec, seed)
