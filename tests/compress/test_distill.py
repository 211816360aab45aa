"""Knowledge distillation: the loss against numpy, the teacher left alone, and short seeded runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from picoml.compress import prune as P  # noqa: E402
from picoml.compress.distill import distill, kd_loss, mse_distill_loss  # noqa: E402
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
