"""Pruning: masks that stay exactly zero, exact sparsity counts, the TF-MOT schedule, N:M, and
structured (channel) pruning of plain, residual, concatenating, depthwise and flatten models."""

from __future__ import annotations

import copy
import io
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from picoml.compress import prune as P  # noqa: E402
from picoml.errors import InputError, UnsupportedError  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is much faster than two on a shared, busy machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))


def toy_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + 2 * (x[:, 2] > 0).astype(np.int64)
    return x, y


def pruned_positions(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: ~mask for name, mask in P.get_masks(model).items()}


def assert_zero_at(model: nn.Module, positions: dict[str, torch.Tensor]) -> None:
    for name, where in positions.items():
        w = model.get_submodule(name).weight.detach()
        assert where.any(), name
        bad = (w[where] != 0).sum().item()
        assert bad == 0, f"{name}: {bad} pruned weights are not 0.0 (max |w| {w[where].abs().max().item()})"


def train_steps(model: nn.Module, steps: int, opt_cls=torch.optim.SGD, **opt_kw) -> None:
    opt = opt_cls(model.parameters(), **opt_kw)
    x, y = (torch.from_numpy(a) for a in toy_data())
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


# ----------------------------------------------------------------------------- unstructured


def test_layer_scope_prunes_exactly_the_smallest_weights_of_each_layer():
    m = mlp()
    masks = P.magnitude_masks(m, 0.7, "layer")
    for name, mod in P.prunable_layers(m).items():
        w = mod.weight.detach().numpy().ravel()
        k = math.floor(0.7 * w.size + 0.5)
        expect = np.ones(w.size, bool)
        expect[np.argsort(np.abs(w), kind="stable")[:k]] = False
        np.testing.assert_array_equal(masks[name].numpy().ravel(), expect, err_msg=name)
    P.apply_masks(m, masks)
    for row in P.sparsity_report(m):
        assert row.zeros == math.floor(0.7 * row.weights + 0.5), row


def test_global_scope_ranks_across_layers():
    m = mlp()
    with torch.no_grad():
        m[2].weight.mul_(10.0)  # big weights: a global threshold should spare this layer
    flat = np.concatenate([np.abs(m.get_submodule(n).weight.detach().numpy()).ravel() for n in ("0", "2", "4")])
    sizes = [m.get_submodule(n).weight.numel() for n in ("0", "2", "4")]
    k = math.floor(0.6 * flat.size + 0.5)
    pruned = np.zeros(flat.size, bool)
    pruned[np.argsort(flat, kind="stable")[:k]] = True
    expected_zeros = [int(part.sum()) for part in np.split(pruned, np.cumsum(sizes)[:-1])]
    P.prune(m, sparsity=0.6, scope="global")
    rows = P.sparsity_report(m)
    assert [r.zeros for r in rows] == expected_zeros
    assert sum(r.zeros for r in rows) == k
    assert rows[1].density > rows[0].density  # the scaled layer kept more
    assert P.overall_sparsity(m) == k / flat.size


def test_global_scope_pruned_set_matches_numpy_threshold():
    m = mlp(seed=3)
    weights = {n: mod.weight.detach().numpy().copy() for n, mod in P.prunable_layers(m).items()}
    masks = P.magnitude_masks(m, 0.55, "global")
    flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
    k = math.floor(0.55 * flat.size + 0.5)
    thr = np.sort(flat)[k - 1]
    for n, w in weights.items():
        np.testing.assert_array_equal(masks[n].numpy(), np.abs(w) > thr, err_msg=n)


def test_masks_survive_optimizer_steps_state_dict_deepcopy_and_training():
    m = mlp()
    P.prune(m, sparsity=0.75)
    where = pruned_positions(m)
    # SGD with momentum and weight decay, then Adam: the masked weights get no gradient
    train_steps(m, 5, torch.optim.SGD, lr=0.5, momentum=0.9, weight_decay=1e-2)
    train_steps(m, 5, torch.optim.Adam, lr=1e-2)
    assert_zero_at(m, where)

    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)
    # into a fresh, unmasked model of the same architecture
    fresh = mlp(seed=99)
    P.load_state_dict(fresh, state)
    assert_zero_at(fresh, where)
    x = torch.from_numpy(toy_data()[0])
    torch.testing.assert_close(fresh(x), m(x), rtol=0, atol=0)
    # into another masked instance with different masks: the saved masks win
    other = mlp(seed=5)
    P.prune(other, sparsity=0.3)
    other.load_state_dict(state)
    assert_zero_at(other, where)

    twin = copy.deepcopy(m)
    train_steps(twin, 5, torch.optim.Adam, lr=1e-2)
    assert_zero_at(twin, where)
    assert_zero_at(m, where)
    assert not torch.equal(twin[0].weight, m[0].weight)  # the copy trained independently

    P.strip(twin)
    for name, where_l in where.items():
        mod = twin.get_submodule(name)
        assert type(mod) is nn.Linear and isinstance(mod.weight, nn.Parameter)
        assert (mod.weight[where_l] == 0).all() and (mod.weight[~where_l] != 0).all()
    torch.save(twin, io.BytesIO())  # a stripped model pickles (a parametrized one does not)
    # stripping the deep copy left the original (which shared its parametrized classes) intact
    assert P.get_masks(m).keys() == where.keys()
    m(torch.from_numpy(toy_data()[0]))
    train_steps(m, 3, torch.optim.Adam, lr=1e-2)
    assert_zero_at(m, where)
    assert type(P.strip(copy.deepcopy(m))[0]) is nn.Linear and P.get_masks(m).keys() == where.keys()


def test_masks_survive_fake_quant_training_and_module_swap():
    """QAT-style training: weights fake-quantized per channel (symmetric, zero point 0) in forward."""

    class FakeQuantLinear(nn.Module):
        def __init__(self, inner: nn.Linear) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            w = self.inner.weight  # the masked weight
            scale = (w.detach().abs().amax(dim=1) / 127).clamp_min(1e-8)
            wq = torch.fake_quantize_per_channel_affine(
                w, scale, torch.zeros_like(scale, dtype=torch.int32), 0, -127, 127
            )
            return nn.functional.linear(x, wq, self.inner.bias)

    m = mlp()
    P.prune(m, sparsity=0.8)
    where = pruned_positions(m)
    # wrap in place: the parametrized Linear lives on inside the wrapper
    q = nn.Sequential(*[FakeQuantLinear(layer) if isinstance(layer, nn.Linear) else layer for layer in m])
    train_steps(q, 8, torch.optim.Adam, lr=1e-2)
    assert_zero_at(m, where)
    # swap for brand-new modules (as some QAT tools do), carrying the masks across by path
    masks = P.get_masks(m)
    swapped = mlp(seed=7)
    swapped.load_state_dict(P.strip(copy.deepcopy(m)).state_dict())
    P.apply_masks(swapped, masks)
    train_steps(swapped, 5, torch.optim.Adam, lr=1e-2)
    assert_zero_at(swapped, where)


def test_zeros_survive_qat_on_the_exported_graph():
    """prune -> strip -> from_torch -> QATModel (+ hold_zeros) -> Adam steps -> to_int8: the zeros stay 0."""
    pytest.importorskip("picoml.frontends.torch", reason="picoml.from_torch is not available")
    qat = pytest.importorskip("picoml.compress.qat", reason="picoml.compress.qat is not available")
    import picoml

    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 6 * 6, 4),
    ).eval()  # fmt: skip
    P.prune(m, sparsity=0.6)
    P.strip(m)
    x = torch.randn(32, 1, 8, 8)
    y = torch.randint(0, 4, (32,))
    g = picoml.from_torch(m, x[:1])
    dense_ops = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    zeros = [op.inputs[1].data == 0 for op in g.ops if op.type in dense_ops]
    assert len(zeros) == 3 and all(z.any() for z in zeros)
    xn = torch.from_numpy(x.permute(0, 2, 3, 1).numpy())

    def qat_steps(hold: bool):
        model = qat.QATModel(g, xn.numpy())
        if hold:
            assert len(P.hold_zeros(model)) == 3
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        model.train()
        for _ in range(4):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xn), y).backward()
            opt.step()
        model.eval()
        return [op.inputs[1].data for op in model.to_int8().ops if op.type in dense_ops]

    held = qat_steps(hold=True)
    for z, w in zip(zeros, held, strict=True):
        assert w.dtype == np.int8 and (w[z] == 0).all()
    free = qat_steps(hold=False)  # the control: without hold_zeros, QAT regrows pruned weights
    assert any((w[z] != 0).any() for z, w in zip(zeros, free, strict=True))


def test_polynomial_decay_values_and_pruning_steps():
    s = P.PolynomialDecay(0.0, 0.8, 10, 110, 10)
    # by hand: s_t = 0.8 + (0 - 0.8) * (1 - (t - 10) / 100) ** 3
    assert s.sparsity(0) == 0.0  # before begin_step: p clamps to 0
    assert s.sparsity(10) == 0.0
    assert s.sparsity(35) == pytest.approx(0.8 - 0.8 * 0.75**3)  # 0.4625
    assert s.sparsity(35) == pytest.approx(0.4625)
    assert s.sparsity(60) == pytest.approx(0.7)  # 0.8 - 0.8 * 0.125
    assert s.sparsity(110) == pytest.approx(0.8)
    assert s.sparsity(500) == pytest.approx(0.8)
    assert [t for t in range(0, 130) if s.should_prune(t)] == list(range(10, 111, 10))
    assert s(20) == (True, pytest.approx(0.8 - 0.8 * 0.9**3))
    # end_step off the frequency grid is still a pruning step (final sparsity reached exactly)
    s2 = P.PolynomialDecay(0.1, 0.5, 0, 25, 10, power=2)
    assert [t for t in range(40) if s2.should_prune(t)] == [0, 10, 20, 25]
    assert s2.sparsity(20) == pytest.approx(0.5 - 0.4 * 0.2**2)  # 0.484
    c = P.ConstantSparsity(0.5, begin_step=4, end_step=20, frequency=8)
    assert [t for t in range(30) if c.should_prune(t)] == [4, 12, 20]
    for bad in (dict(initial_sparsity=0.0, final_sparsity=1.0), dict(initial_sparsity=-0.1, final_sparsity=0.5)):
        with pytest.raises(InputError):
            P.PolynomialDecay(**bad, begin_step=0, end_step=10)
    with pytest.raises(InputError):
        P.PolynomialDecay(0.0, 0.5, 10, 10)


def test_prune_with_schedule_follows_it_step_by_step():
    m = mlp()
    x, y = toy_data()
    sched = P.PolynomialDecay(0.2, 0.8, 2, 20, 6)
    n_total = sum(r.weights for r in P.sparsity_report(m))
    seen: list[int] = []

    def train(model, step_callback):
        def hook():
            step_callback()
            seen.append(sum(r.zeros for r in P.sparsity_report(model)))

        # 64 samples / batch 8 = 8 steps per epoch, 3 epochs = 24 steps
        return P.fine_tune(model, (x, y), epochs=3, batch_size=8, lr=1e-2, step_callback=hook)

    P.prune(m, schedule=sched, train=train)
    assert len(seen) == 24
    expected, current = [], 0  # before step 2 the model is dense
    for t in range(1, 25):
        if sched.should_prune(t):
            current = math.floor(sched.sparsity(t) * n_total + 0.5)  # global scope: one count
        expected.append(current)
    assert seen == expected
    assert seen[-1] == math.floor(0.8 * n_total + 0.5)


def test_prune_warns_and_finishes_when_training_stops_early():
    m = mlp()
    x, y = toy_data()
    sched = P.PolynomialDecay(0.0, 0.9, 0, 1000, 10)
    with pytest.warns(UserWarning, match="ends at step 1000"):
        P.prune(m, schedule=sched, train=lambda mod, cb: P.fine_tune(mod, (x, y), epochs=1, step_callback=cb))
    n_total = sum(r.weights for r in P.sparsity_report(m))
    assert sum(r.zeros for r in P.sparsity_report(m)) == math.floor(0.9 * n_total + 0.5)


def test_masks_are_monotone_and_prune_twice_keeps_old_zeros():
    m = mlp()
    P.prune(m, sparsity=0.5)
    first = pruned_positions(m)
    train_steps(m, 3, torch.optim.Adam, lr=1e-2)
    P.prune(m, sparsity=0.7)
    assert_zero_at(m, first)
    for name, where in pruned_positions(m).items():
        assert (where | ~first[name]).all() and where.sum() >= first[name].sum()


def test_nm_two_four_pattern_holds_in_every_group():
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 4)
    )
    P.prune(m, n_m=(2, 4), skip_first_last=True)
    assert list(P.get_masks(m)) == ["2"]

    def check():
        w = m[2].weight.detach().permute(0, 2, 3, 1).reshape(-1, 4)  # OHWI, groups along I
        assert ((w != 0).sum(dim=1) == 2).all()

    check()
    x = torch.randn(16, 3, 8, 8)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(5):
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
    check()
    lin = mlp()
    P.prune(lin, n_m=(2, 4))
    for mod in (lin[0], lin[2], lin[4]):
        assert ((mod.weight.detach().reshape(-1, 4) != 0).sum(dim=1) == 2).all()
    with pytest.raises(InputError, match=r"'0'.*multiple of 4"):
        P.nm_masks(nn.Sequential(nn.Conv2d(3, 8, 3)), 2, 4)


def test_skip_first_last_and_exclude():
    m = mlp()
    P.prune(m, sparsity=0.5, skip_first_last=True)
    assert list(P.get_masks(m)) == ["2"]
    m2 = mlp()
    P.prune(m2, sparsity=0.5, exclude=["4"], scope="layer")
    assert sorted(P.get_masks(m2)) == ["0", "2"]
    with pytest.raises(InputError, match="not a module path"):
        P.prune(mlp(), sparsity=0.5, exclude=["nope"])
    with pytest.raises(InputError, match="exactly one"):
        P.prune(mlp(), sparsity=0.5, n_m=(2, 4))
    with pytest.raises(InputError, match="training loop"):
        P.prune(mlp(), schedule=P.PolynomialDecay(0, 0.5, 0, 10))


def test_modules_import_without_torch():
    src = Path(P.__file__).parent
    code = (
        "import importlib.util, sys\n"
        f"for name in ('prune', 'sparsity', 'channels', 'cost', 'train', 'distill'):\n"
        f"    spec = importlib.util.spec_from_file_location('m_' + name, r'{src}/' + name + '.py')\n"
        "    sys.modules[spec.name] = mod = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(mod)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ----------------------------------------------------------------------------- structured


class PlainCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.b1(self.c1(x)))
        x = nn.functional.max_pool2d(torch.relu(self.b2(self.c2(x))), 2)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(y)))


class ResCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)
        self.block1, self.block2 = Block(16), Block(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = self.block2(self.block1(x))
        return self.fc(x.mean(dim=(2, 3)))


class CatNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 12, 1)
        self.bn = nn.BatchNorm2d(20)
        self.c = nn.Conv2d(20, 6, 3)
        self.fc = nn.Linear(6 * 6 * 6, 4)

    def forward(self, x):
        z = torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], dim=1)
        z = torch.relu(self.c(self.bn(z)))
        return self.fc(z.flatten(1))


class DWSep(nn.Module):
    """Two depthwise-separable blocks (MobileNet/DS-CNN style), the second with depth multiplier 2."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.dw1, self.bn1 = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16)
        self.pw1 = nn.Conv2d(16, 24, 1)
        self.dw2 = nn.Conv2d(24, 48, 3, padding=1, groups=24)
        self.pw2 = nn.Conv2d(48, 8, 1)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.pw1(torch.relu(self.bn1(self.dw1(x)))))
        x = torch.relu(self.pw2(self.dw2(x)))
        return self.head(x.view(x.size(0), x.size(1), -1).mean(-1))


class FlatNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 10, 5)  # (N, 4, 20) -> (N, 10, 16)
        self.fc1 = nn.Linear(10 * 16, 12)
        self.fc2 = nn.Linear(12, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc2(torch.relu(self.fc1(x.view(x.size(0), -1))))


def randomize_bn(model: nn.Module, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def silence(model: nn.Module, channels: dict[str, list[int]]) -> None:
    """Make output channels exactly dead: zero filters and biases; zero γ and β of the BatchNorms named."""
    with torch.no_grad():
        for path, idx in channels.items():
            mod = model.get_submodule(path)
            if isinstance(mod, nn.modules.conv._ConvNd) or isinstance(mod, nn.Linear):
                mod.weight[idx] = 0.0
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight[idx] = 0.0
            if getattr(mod, "bias", None) is not None:
                mod.bias[idx] = 0.0


def assert_same_outputs(original: nn.Module, pruned: nn.Module, x: torch.Tensor) -> None:
    """Removing dead channels only drops zero terms from the sums: equal up to float32 summation order."""
    original.eval(), pruned.eval()
    with torch.no_grad():
        a, b = original(x), pruned(x)
    scale = float(a.abs().max())
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5 * max(scale, 1.0))


def check_smaller(original: nn.Module, pruned: nn.Module, x: torch.Tensor) -> tuple[P.ModelCost, P.ModelCost]:
    before, after = P.model_cost(original, x), P.model_cost(pruned, x)
    assert after.params < before.params and after.macs < before.macs, (before, after)
    assert pruned(x).shape == original(x).shape
    return before, after


def test_count_macs_by_hand():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    x = torch.randn(5, 3, 8, 8)
    assert P.count_macs(m, x) == 6 * 6 * 8 * (3 * 9) + 288 * 10  # 7776 + 2880
    assert P.count_params(m) == 8 * 27 + 8 + 2880 + 10
    p = P.prune_channels(m, x, 0.5)
    assert p[0].out_channels == 4 and p[3].in_features == 4 * 36
    assert P.count_macs(p, x) == 6 * 6 * 4 * 27 + 144 * 10
    dw = nn.Conv2d(4, 8, 3, groups=4)
    assert P.count_macs(dw, torch.randn(1, 4, 5, 5)) == 3 * 3 * 8 * 9
    ct = nn.ConvTranspose2d(4, 6, 2, stride=2)
    assert P.count_macs(ct, torch.randn(1, 4, 3, 3)) == 3 * 3 * 4 * 6 * 4


def test_plain_cnn():
    torch.manual_seed(0)
    m = PlainCNN().eval()
    randomize_bn(m)
    x = torch.randn(4, 3, 8, 8)
    silence(
        m,
        {"c1": [1, 4, 6, 7], "b1": [1, 4, 6, 7], "c2": [0, 3, 5, 8, 9, 11, 12, 15], "b2": [0, 3, 5, 8, 9, 11, 12, 15]},
    )
    p = P.prune_channels(m, x, 0.5)
    assert (p.c1.out_channels, p.b1.num_features, p.c2.in_channels) == (4, 4, 4)
    assert (p.c2.out_channels, p.b2.num_features, p.fc.in_features, p.fc.out_features) == (8, 8, 8, 5)
    assert m.c1.out_channels == 8  # the original is untouched
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)
    # the surviving filters are the originals, in order
    torch.testing.assert_close(p.c2.weight, m.c2.weight[[1, 2, 4, 6, 7, 10, 13, 14]][:, [0, 2, 3, 5]], rtol=0, atol=0)


def test_residual_add_prunes_the_group_together():
    torch.manual_seed(0)
    m = ResCNN().eval()
    randomize_bn(m)
    x = torch.randn(2, 3, 8, 8)
    groups = {g.producers: g for g in P.channel_groups(m, x)}
    assert ("stem", "block1.c2", "block2.c2") in groups  # everything added together is one group
    assert groups[("fc",)].prunable == 0  # the logits are pinned
    dead = [0, 2, 3, 7, 9, 10, 12, 13]
    silence(m, {p: dead for p in ("stem", "bn", "block1.c2", "block1.b2", "block2.c2", "block2.b2")})
    silence(m, {"block1.c1": [1, 4, 5, 6, 8, 11, 14, 15], "block1.b1": [1, 4, 5, 6, 8, 11, 14, 15]})
    silence(m, {"block2.c1": [0, 1, 2, 3, 4, 5, 6, 7], "block2.b1": [0, 1, 2, 3, 4, 5, 6, 7]})
    p = P.prune_channels(m, x, 0.5)
    for path in ("stem", "block1.c2", "block2.c2", "block1.c1", "block2.c1"):
        assert p.get_submodule(path).out_channels == 8, path
    assert p.block1.c1.in_channels == 8 and p.fc.in_features == 8 and p.bn.num_features == 8
    kept = [i for i in range(16) if i not in dead]
    torch.testing.assert_close(p.stem.weight, m.stem.weight[kept], rtol=0, atol=0)
    torch.testing.assert_close(p.block2.c1.weight, m.block2.c1.weight[8:][:, kept], rtol=0, atol=0)
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)


def test_residual_bn_criterion_and_dict_ratio():
    torch.manual_seed(0)
    m = ResCNN().eval()
    randomize_bn(m)
    x = torch.randn(2, 3, 8, 8)
    # γ = β = 0 kills a channel whatever the conv weights: criterion "bn" must find exactly those
    dead = [1, 3, 5, 7]
    with torch.no_grad():
        for bn in ("bn", "block1.b2", "block2.b2"):
            m.get_submodule(bn).weight[dead] = 0.0
            m.get_submodule(bn).bias[dead] = 0.0
    p = P.prune_channels(m, x, {"stem": 0.25}, criterion="bn")
    assert p.stem.out_channels == 12 and p.block1.c1.out_channels == 16  # only the named group
    assert_same_outputs(m, p, x)
    # criterion "l1" ranks the group by the L1 norms summed over its three producers
    l1 = sum(
        m.get_submodule(n).weight.detach().abs().sum(dim=(1, 2, 3)).numpy() for n in ("stem", "block1.c2", "block2.c2")
    )
    kept = sorted(np.argsort(l1, kind="stable")[4:].tolist())
    p_l1 = P.prune_channels(m, x, {"block2.c2": 0.25}, criterion="l1")
    torch.testing.assert_close(p_l1.block1.c2.weight, m.block1.c2.weight[kept], rtol=0, atol=0)
    with pytest.raises(InputError, match="different values"):
        P.prune_channels(m, x, {"stem": 0.25, "block1.c2": 0.5})
    with pytest.raises(InputError, match=r"\['fc'\] cannot be pruned: they are a model output"):
        P.prune_channels(m, x, {"fc": 0.5})
    with pytest.raises(InputError, match="not a Conv/Linear layer whose channels"):
        P.prune_channels(m, x, {"block1": 0.5})
    q = P.prune_channels(m, x, 0.5, exclude=["stem"])
    assert q.stem.out_channels == 16 and q.block1.c2.out_channels == 16 and q.block1.c1.out_channels == 8


def test_concatenation_maps_slices():
    torch.manual_seed(0)
    m = CatNet().eval()
    randomize_bn(m)
    x = torch.randn(3, 3, 8, 8)
    da, db = [0, 5, 6, 7], [1, 2, 3, 8, 10, 11]
    silence(m, {"a": da, "b": db, "bn": da + [8 + i for i in db]})
    silence(m, {"c": [2, 4, 5]})
    p = P.prune_channels(m, x, 0.5)
    assert (p.a.out_channels, p.b.out_channels, p.bn.num_features, p.c.in_channels) == (4, 6, 10, 10)
    assert p.c.out_channels == 3 and p.fc.in_features == 3 * 36
    ka = [i for i in range(8) if i not in da]
    kb = [8 + i for i in range(12) if i not in db]
    torch.testing.assert_close(p.c.weight, m.c.weight[[0, 1, 3]][:, ka + kb], rtol=0, atol=0)
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)


def test_depthwise_follows_its_producer():
    torch.manual_seed(0)
    m = DWSep().eval()
    randomize_bn(m)
    x = torch.randn(2, 3, 8, 8)
    d0 = [0, 1, 4, 6, 9, 10, 13, 15]
    silence(m, {"stem": d0, "dw1": d0, "bn1": d0})
    d1 = list(range(0, 24, 2))
    silence(m, {"pw1": d1, "dw2": [2 * i + j for i in d1 for j in (0, 1)]})
    silence(m, {"pw2": [0, 1, 2, 3]})
    p = P.prune_channels(m, x, 0.5)
    assert (p.stem.out_channels, p.dw1.in_channels, p.dw1.out_channels, p.dw1.groups, p.bn1.num_features) == (
        8, 8, 8, 8, 8,
    )  # fmt: skip
    assert (p.pw1.in_channels, p.pw1.out_channels) == (8, 12)
    assert (p.dw2.in_channels, p.dw2.out_channels, p.dw2.groups, p.pw2.in_channels) == (12, 24, 12, 24)
    assert p.pw2.out_channels == 4 and p.head.in_features == 4
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)


def test_flatten_into_linear_removes_hw_features_per_channel():
    torch.manual_seed(0)
    m = FlatNet().eval()
    x = torch.randn(4, 4, 20)
    dead = [2, 3, 6, 7, 9]
    silence(m, {"conv": dead, "fc1": [0, 4, 8, 11, 5, 6]})
    p = P.prune_channels(m, x, 0.5)
    assert p.conv.out_channels == 5 and p.fc1.in_features == 5 * 16 and p.fc1.out_features == 6
    kept = [c for c in range(10) if c not in dead]
    cols = [c * 16 + j for c in kept for j in range(16)]
    torch.testing.assert_close(p.fc1.weight, m.fc1.weight[[1, 2, 3, 7, 9, 10]][:, cols], rtol=0, atol=0)
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)


def test_mlp_neurons_min_channels_and_training_flag():
    m = mlp().train()
    x = torch.from_numpy(toy_data()[0])
    p = P.prune_channels(m, x, 0.9, min_channels=4)
    assert (p[0].out_features, p[2].in_features, p[2].out_features, p[4].in_features) == (4, 4, 4, 4)
    assert p.training and m.training
    p(x).sum().backward()  # the result trains like any module


class SENet(nn.Module):
    """Squeeze-excite scaling, one conv called twice, a transposed conv, and a pinned constant."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(16, 4), nn.Linear(4, 16)
        self.shared = nn.Conv2d(16, 16, 1)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.out = nn.Conv2d(8, 2, 1)
        self.side = nn.Conv2d(3, 6, 1)
        self.offset = nn.Parameter(torch.zeros(1, 6, 1, 1))  # a raw per-channel Parameter pins 'side'
        self.ln_in = nn.Linear(6, 6)
        self.ln = nn.LayerNorm(6)  # normalizes over the channels: pins 'ln_in'

    def forward(self, x):
        y = torch.relu(self.conv(x))
        w = torch.sigmoid(self.fc2(torch.relu(self.fc1(y.mean((2, 3))))))
        y = y * w[:, :, None, None]
        z = self.shared(y) + self.shared(torch.relu(y))
        s = self.ln(self.ln_in((self.side(x) + self.offset).mean((2, 3))))
        return self.out(torch.relu(self.up(z))).mean((2, 3)) + s[:, :2]


def test_squeeze_excite_shared_module_transposed_conv_and_pins():
    torch.manual_seed(0)
    m = SENet().eval()
    x = torch.randn(2, 3, 8, 8)
    groups = {g.producers: g for g in P.channel_groups(m, x)}
    assert groups[("conv", "fc2")].prunable == 16  # x * w: the SE output shares the conv's channels
    assert groups[("side",)].prunable == 0 and groups[("ln_in",)].prunable == 0
    assert groups[("out",)].prunable == 0
    silence(m, {"conv": list(range(8)), "fc2": list(range(8)), "fc1": [0, 1]})
    silence(m, {"shared": [1, 3, 5, 7, 9, 11, 13, 15]})
    with torch.no_grad():
        m.up.weight[:, [0, 2, 4, 6]] = 0.0
        m.up.bias[[0, 2, 4, 6]] = 0.0
    p = P.prune_channels(m, x, 0.5)
    assert (p.conv.out_channels, p.fc2.out_features, p.fc1.out_features, p.fc1.in_features) == (8, 8, 2, 8)
    assert (p.shared.in_channels, p.shared.out_channels, p.up.in_channels, p.up.out_channels) == (8, 8, 8, 4)
    assert (p.out.in_channels, p.side.out_channels, p.ln_in.out_features) == (4, 6, 6)
    check_smaller(m, p, x)
    assert_same_outputs(m, p, x)


class SliceBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        return self.conv(x)[:, :4]  # a channel slice: not something prune_channels follows


class SliceNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.block = SliceBlock()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.block(torch.relu(self.stem(x))).mean((2, 3)))


class HardCoded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8 * 6 * 6, 2)

    def forward(self, x):
        return self.fc(self.conv(x).view(-1, 288))


def test_unsupported_structures_are_named():
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(UnsupportedError, match=r"'block' \(SliceBlock\).*exclude"):
        P.prune_channels(SliceNet(), x, 0.5)
    p = P.prune_channels(SliceNet(), x, 0.5, exclude=["block"])
    assert p.stem.out_channels == 4 and p.block.conv.in_channels == 4 and p.block.conv.out_channels == 8
    with pytest.raises(UnsupportedError, match="hard-codes a channel count"):
        P.prune_channels(HardCoded(), x, 0.5)
    with pytest.raises(UnsupportedError, match="grouped convolution"):
        P.prune_channels(nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, groups=2)), x, 0.5)
    masked = mlp()
    P.prune(masked, sparsity=0.5)
    with pytest.raises(UnsupportedError, match="strip"):
        P.prune_channels(masked, torch.randn(2, 12), 0.5)


def test_channel_pruned_residual_model_traces_into_a_smaller_graph():
    pytest.importorskip("picoml.frontends.torch", reason="picoml.from_torch (frontends/torch.py) is not available")
    import picoml
    from picoml.graph.ops import op_macs

    torch.manual_seed(0)
    m = ResCNN().eval()
    randomize_bn(m)
    x = torch.randn(1, 3, 8, 8)
    p = P.prune_channels(m, x, 0.5)
    g0, g1 = picoml.from_torch(m, x), picoml.from_torch(p, x)
    macs0, macs1 = (sum(op_macs(op) for op in g.ops) for g in (g0, g1))
    assert macs1 < macs0
    dense = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    for g, model in ((g0, m), (g1, p)):
        assert sum(op_macs(op) for op in g.ops if op.type in dense) == P.count_macs(model, x)
    y = picoml.run(g1, x.permute(0, 2, 3, 1).numpy())
    with torch.no_grad():
        np.testing.assert_allclose(y, p(x).numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_gradual_pruning_keeps_digits_accuracy():
    """Digits CNN: 80% global sparsity with a polynomial schedule over 4 fine-tuning epochs."""
    pytest.importorskip("sklearn")
    from picoml.tasks import digits
    from picoml.tasks.train import predict, score

    model, hist = digits.train(seed=0, epochs=10)
    split = digits.load(0)
    dense = score("accuracy", predict(model, split.x_test), split.y_test)
    steps = 4 * math.ceil(len(split.x_train) / 64)
    sched = P.PolynomialDecay(0.0, 0.8, 0, steps // 2, 5)
    P.prune(
        model,
        schedule=sched,
        skip_first_last=True,
        train=lambda mdl, cb: P.fine_tune(
            mdl, (split.x_train, split.y_train), epochs=4, batch_size=64, lr=1e-3, step_callback=cb
        ),
    )
    P.strip(model)
    sparse = score("accuracy", predict(model, split.x_test), split.y_test)
    rows = P.sparsity_report(model)
    inner = rows[1:-1]
    assert sum(r.zeros for r in inner) == math.floor(0.8 * sum(r.weights for r in inner) + 0.5)
    print(f"digits: dense {dense:.4f}, 80% sparse {sparse:.4f}")
    assert sparse >= dense - 0.03


@pytest.mark.slow
def test_channel_pruning_digits_recovers_with_fine_tuning():
    pytest.importorskip("sklearn")
    from picoml.tasks import digits
    from picoml.tasks.train import predict, score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = digits.train(seed=0, epochs=10)
    split = digits.load(0)
    x = torch.from_numpy(split.x_train[:8])
    dense = score("accuracy", predict(model, split.x_test), split.y_test)
    small = P.prune_channels(model, x, 0.5, criterion="bn")
    before, after = P.model_cost(model, x), P.model_cost(small, x)
    P.fine_tune(small, (split.x_train, split.y_train), epochs=5, batch_size=64, lr=1e-3)
    acc = score("accuracy", predict(small, split.x_test), split.y_test)
    print(f"digits: dense {dense:.4f} {before}; channels/2 + 5 epochs {acc:.4f} {after}")
    assert after.macs < 0.35 * before.macs
    assert acc >= dense - 0.05
