"""Memory plans of ADD_N (elementwise over N inputs: in place over an input that dies there, the C
kernel reads element i of every input before writing it) and of MIRROR_PAD / PADV2 / REVERSE_V2
(never in place: an output element reads elsewhere in the input); both bit-exact in C when the plan
overlaps them."""

import numpy as np

from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs
from picoml.plan import plan_memory

from oracles import qtensor


def _op(t, ins, out, **attrs):
    return Op(t, ins, [out], {**default_attrs(t), **attrs}, name=out.name)


def _relu(x, y):
    return _op("RELU", [x], y)


def test_add_n_writes_over_a_dying_input_and_reverse_does_not():
    q = (0.05, 0)
    x, a, b, s, r = (qtensor(n, (1, 64), *q) for n in ("x", "a", "b", "s", "r"))
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    ops = [_relu(x, a), _relu(x, b), _op("ADD_N", [a, b, x], s), _op("REVERSE_V2", [s, ax], r)]
    g = Graph([x, a, b, s, r, ax], ops, [x], [r])
    g.validate()
    plan = plan_memory(g)
    assert plan.offset_of(s) in (plan.offset_of(a), plan.offset_of(b))  # in place
    assert plan.offset_of(r) != plan.offset_of(s)  # a reversal cannot run in place
    xs = np.random.default_rng(0).integers(-128, 128, (4, 1, 64)).astype(np.int8)
    for target in ("host", "cortex-m0plus"):
        rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, f"{target}: {rep.first_mismatch}"
