"""Knowledge distillation: the loss against numpy, the teacher left alone, and short seeded runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from picoml.compress import prune as P  # noqa: E402
from picoml.compress.distill import augmentation, distill, kd_loss, mse_distill_loss  # noqa: E402
from picoml.errors import InputError  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is much faster than two on a shared, busy machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_kd_loss_matches_numpy():
    s = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    t = np.array([[2.0, 1.0, 0.5], [1.0, 1.0, 3.0]])
    y = np.array([2, 0])
    T, alpha = 2.0, 0.3
    log_ps, log_pt = np_log_softmax(s / T), np_log_softmax(t / T)
    kl = np.sum(np.exp(log_pt) * (log_pt - log_ps), axis=1).mean()  # KL(p_t || p_s) per sample, batch mean
    ce = -np_log_softmax(s)[np.arange(2), y].mean()
    expected = alpha * T * T * kl + (1 - alpha) * ce
    got = kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), temperature=T, alpha=alpha)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    # by hand for one 2-class row at T = 1: p_t = (1/2, 1/2), p_s = softmax(0, ln 3) = (1/4, 3/4)
    # KL = 1/2 ln(2) + 1/2 ln(2/3) = 1/2 ln(4/3)
    one = kd_loss(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[5.0, 5.0]]), None, temperature=1.0, alpha=1.0)
    assert float(one) == pytest.approx(0.5 * math.log(4.0 / 3.0), rel=1e-6)
    # identical logits: the soft term is 0 and only (1 - alpha) * CE remains
    same = kd_loss(torch.tensor(s), torch.tensor(s), torch.tensor(y), temperature=3.0, alpha=0.25)
    assert float(same) == pytest.approx(0.75 * ce, rel=1e-12)


def test_kl_and_soft_cross_entropy_have_the_same_gradient():
    """KL(p_t || p_s) = CE(p_t, p_s) - H(p_t); H(p_t) does not depend on the student."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(5, 7, generator=g, dtype=torch.float64)
    T = 3.0
    kd_loss(s, t, None, temperature=T, alpha=1.0).backward()
    g_kl = s.grad.clone()
    s.grad = None
    pt = torch.softmax(t / T, dim=1)
    soft_ce = -(pt * torch.log_softmax(s / T, dim=1)).sum(dim=1).mean() * T * T
    soft_ce.backward()
    torch.testing.assert_close(s.grad, g_kl, rtol=1e-12, atol=1e-14)
    # and the gradient is T * (p_s - p_t) / N per logit (Hinton et al. 2015, eq. 2, times T^2)
    ps = torch.softmax(s.detach() / T, dim=1)
    torch.testing.assert_close(g_kl, T * (ps - pt) / 5, rtol=1e-10, atol=1e-14)


def test_mse_distill_loss_matches_numpy_and_checks_arguments():
    s = np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 0.0]])
    t = np.array([[1.0, 1.0], [1.5, -0.5], [0.5, 0.0]])
    y = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, -1.0]])
    expected = 0.7 * np.mean((s - t) ** 2) + 0.3 * np.mean((s - y) ** 2)
    got = mse_distill_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), alpha=0.7)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InputError, match="alpha=1"):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), None, alpha=0.5)
    with pytest.raises(InputError, match="differ"):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(InputError, match="temperature"):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), temperature=0)


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian classes in 10-D with overlap (a teacher has something to teach)."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).standard_normal((4, 10)) * 1.2
    y = rng.integers(0, 4, n)
    x = centers[y] + rng.standard_normal((n, 10))
    return x.astype(np.float32), y.astype(np.int64)


def make_teacher() -> nn.Module:
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 4))
    P.fine_tune(teacher, blobs(512, 0), epochs=8, lr=3e-3, batch_size=32, seed=0)
    teacher.zero_grad(set_to_none=True)
    return teacher


def make_student(seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 6), nn.ReLU(), nn.Linear(6, 4))


def full_kd(teacher: nn.Module, student: nn.Module, data) -> float:
    x, y = (torch.from_numpy(a) for a in data)
    teacher.eval(), student.eval()
    with torch.no_grad():
        return float(kd_loss(student(x), teacher(x), y, temperature=4.0, alpha=0.5))


def test_distill_improves_the_student_and_is_repeatable():
    teacher = make_teacher()
    teacher.train()  # distill must switch it to eval and back
    t_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    data, val = blobs(512, 1), blobs(256, 2)
    student = make_student()
    before = full_kd(teacher, student, data)
    teacher.train()
    hist = distill(teacher, student, data, epochs=4, lr=1e-2, batch_size=32, seed=0, val_data=val)
    assert teacher.training and teacher[2].training  # flags restored
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, t_state[k]), k  # the teacher is never updated
    assert all(p.grad is None for p in teacher.parameters())
    after = full_kd(teacher, student, data)
    assert after < 0.7 * before, (before, after)
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert len(hist.val_metric) == 4 and hist.val_metric[-1] > 0.6 and hist.best_epoch >= 0
    again = make_student()
    distill(teacher, again, data, epochs=4, lr=1e-2, batch_size=32, seed=0, val_data=val)
    for a, b in zip(student.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


def test_distill_from_a_batch_iterable_with_the_mse_loss():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 2))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    with torch.no_grad():
        y = teacher(torch.from_numpy(x)) + 0.05 * torch.randn(256, 2)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), y), batch_size=32, shuffle=False
    )
    torch.manual_seed(1)
    student = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))

    def loss_now() -> float:
        with torch.no_grad():
            xt = torch.from_numpy(x)
            return float(mse_distill_loss(student(xt), teacher(xt), y, alpha=0.8))

    before = loss_now()
    hist = distill(teacher, student, loader, loss="mse", alpha=0.8, epochs=5, lr=1e-2)
    assert hist.metric == "mse" and len(hist.train_loss) == 5
    assert loss_now() < 0.5 * before


def test_prune_while_distilling():
    """distill's step_callback drives a pruning schedule: distill -> prune in one run."""
    teacher = make_teacher()
    student = make_student()
    data = blobs(512, 1)
    sched = P.PolynomialDecay(0.0, 0.5, 0, 40, 10)  # 512 / 32 = 16 steps per epoch, 3 epochs = 48 steps
    P.prune(
        student,
        schedule=sched,
        train=lambda m, cb: distill(teacher, m, data, epochs=3, lr=1e-2, step_callback=cb),
    )
    rows = P.sparsity_report(student)
    total = sum(r.weights for r in rows)
    assert sum(r.zeros for r in rows) == math.floor(0.5 * total + 0.5)
    assert full_kd(teacher, student, data) < full_kd(teacher, make_student(), data)


def test_distill_rejects_bad_arguments():
    t, s = make_student(0), make_student(1)
    data = blobs(16, 0)
    with pytest.raises(InputError, match="loss"):
        distill(t, s, data, loss="ce")
    with pytest.raises(InputError, match="restore_best"):
        distill(t, s, data, restore_best=True)


def test_augmentation_shifts_every_sample_within_the_bound_repeating_the_edge():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((200, 2, 5, 6)).astype(np.float32))
    out = augmentation(shift=1)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")
    seen = set()
    for i in range(len(x)):
        hits = [
            (dy, dx)
            for dy in range(3)
            for dx in range(3)
            if np.array_equal(out[i].numpy(), padded[i, :, dy : dy + 5, dx : dx + 6])
        ]
        assert len(hits) == 1, (i, hits)  # each sample: exactly one shift in [-1, 1]², both channels alike
        seen.add(hits[0])
    assert len(seen) == 9  # all nine offsets drawn (200 samples)
    assert not torch.equal(out, x)
    # repeatable from the generator; another seed gives other shifts
    assert torch.equal(out, augmentation(shift=1)(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, augmentation(shift=1)(x, torch.Generator().manual_seed(1)))
    # sequences (N, C, L): shifts along L only, edge repeated
    seq = torch.arange(10, dtype=torch.float32).repeat(60, 3, 1)  # every row 0..9
    shifted = augmentation(shift=2)(seq, torch.Generator().manual_seed(0))
    padded = np.pad(np.arange(10.0), 2, mode="edge")  # 0 0 0 1 ... 9 9 9
    offsets = [next(o for o in range(5) if np.array_equal(row, padded[o : o + 10])) for row in shifted[:, 0].numpy()]
    assert set(offsets) == set(range(5))
    assert torch.equal(shifted[:, 0], shifted[:, 2])  # one shift per sample, all channels


def test_augmentation_noise_and_arguments():
    x = torch.zeros(4000, 1, 3, 3)
    noisy = augmentation(noise=0.25)(x, torch.Generator().manual_seed(0))
    assert float(noisy.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noisy.std()) == pytest.approx(0.25, rel=0.03)
    assert augmentation() is None and augmentation(0, 0.0) is None
    flat = torch.zeros(8, 5)
    assert augmentation(noise=0.1)(flat, torch.Generator().manual_seed(0)).shape == (8, 5)
    with pytest.raises(InputError, match="shift needs"):
        augmentation(shift=1)(flat, torch.Generator().manual_seed(0))
    for bad in ({"shift": -1}, {"shift": 1.5}, {"noise": -0.1}):
        with pytest.raises(InputError):
            augmentation(**bad)


class Recorder(nn.Module):
    """Wraps a model and keeps every input batch it is called on."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.model(x)


def test_the_teacher_labels_the_augmented_batches_and_alpha_0_sees_the_same_batches():
    teacher = Recorder(make_teacher())
    data, val = blobs(96, 1), blobs(40, 2)
    base = augmentation(noise=0.5)
    made: dict[float, list[torch.Tensor]] = {}

    def recording(alpha: float):
        made[alpha] = []

        def augment(x, gen):
            out = base(x, gen)
            made[alpha].append(out.clone())
            return out

        return augment

    kw = {"epochs": 2, "lr": 1e-2, "batch_size": 32, "seed": 3, "val_data": val}
    distill(teacher, make_student(), data, alpha=0.7, augment=recording(0.7), **kw)
    # validation inputs once (not augmented), then every augmented training batch, in order
    assert torch.equal(teacher.seen[0], torch.from_numpy(val[0]))
    batches = teacher.seen[1:]
    assert len(batches) == len(made[0.7]) == 2 * 3
    for a, b in zip(batches, made[0.7], strict=True):
        assert torch.equal(a, b)
    # augmented inputs are new every batch and every epoch: no training input is seen as is
    x_train = torch.from_numpy(data[0])
    assert not any(torch.equal(b[0], row) for b in batches for row in x_train)
    # the labels-only control: the teacher is never run, the augmented batches are identical
    teacher.seen.clear()
    distill(teacher, make_student(), data, alpha=0.0, augment=recording(0.0), **kw)
    assert teacher.seen == []
    for a, b in zip(made[0.0], made[0.7], strict=True):
        assert torch.equal(a, b)
    # without augmentation the teacher labels the training inputs once, up front
    teacher.seen.clear()
    distill(teacher, make_student(), data, alpha=0.7, **kw)
    assert len(teacher.seen) == 2 and torch.equal(teacher.seen[0], x_train)


def test_alpha_0_is_training_on_labels_alone():
    """alpha=0 without the teacher = the (1 - alpha) cross-entropy term of kd_loss: same weights."""
    teacher = make_teacher()
    data = blobs(96, 1)
    a, b = make_student(), make_student()
    distill(teacher, a, data, alpha=0.0, epochs=2, lr=1e-2, seed=1)
    P.fine_tune(b, data, epochs=2, lr=1e-2, batch_size=32, seed=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_cosine_lr_schedule_anneals_the_steps():
    teacher = make_teacher()
    data = blobs(64, 1)  # 4 steps of 16 per epoch, 8 in all

    def step_sizes(schedule: str) -> list[float]:
        student = make_student()
        states = [[p.detach().clone() for p in student.parameters()]]

        def record():
            states.append([p.detach().clone() for p in student.parameters()])

        distill(teacher, student, data, epochs=2, lr=1e-2, batch_size=16, lr_schedule=schedule, step_callback=record)
        return [
            max(float((b - a).abs().max()) for a, b in zip(s0, s1, strict=True))
            for s0, s1 in zip(states, states[1:], strict=False)
        ]

    const, cos = step_sizes("constant"), step_sizes("cosine")
    assert len(const) == len(cos) == 8
    # Adam's first step moves some weight by ~lr under both; cosine's last lr is lr·(1 + cos(7π/8))/2 ≈ 0.038·lr
    assert const[0] == pytest.approx(1e-2, rel=0.01) and cos[0] == pytest.approx(1e-2, rel=0.01)
    assert const[-1] > 0.3e-2
    assert cos[-1] < 0.15e-2
    assert all(b <= a * 1.5 for a, b in zip(cos[3:], cos[4:], strict=False))  # shrinking in the second half
    with pytest.raises(InputError, match="lr_schedule"):
        distill(teacher, make_student(), data, lr_schedule="step")


@pytest.mark.slow
def test_distilled_digits_student_beats_labels_only():
    """Digits: a width-4 CNN student distilled from a width-16 teacher vs the same student on labels."""
    pytest.importorskip("sklearn")
    from picoml.tasks import digits
    from picoml.tasks.train import predict, score

    split = digits.load(0)
    teacher, _ = digits.train(seed=0, epochs=20)
    t_acc = score("accuracy", predict(teacher, split.x_test), split.y_test)
    accs = {}
    for mode in ("labels", "distilled"):
        torch.manual_seed(1)
        student = digits.build_model(width=4)
        data = (split.x_train, split.y_train)
        if mode == "labels":
            P.fine_tune(student, data, epochs=30, lr=3e-3, batch_size=64, seed=0)
        else:
            distill(teacher, student, data, epochs=30, lr=3e-3, batch_size=64, seed=0, temperature=4.0, alpha=0.7)
        accs[mode] = score("accuracy", predict(student, split.x_test), split.y_test)
    print(
        f"digits teacher {t_acc:.4f}; width-4 student: labels only {accs['labels']:.4f}, distilled {accs['distilled']:.4f}"
    )
    assert accs["distilled"] >= accs["labels"] - 0.01
