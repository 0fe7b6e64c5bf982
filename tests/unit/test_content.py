import random

import cloudpickle
import numpy as np
import pytest

from repro.core.content import first_difference, same_content


class Holder:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def roundtrip(obj):
    return cloudpickle.loads(cloudpickle.dumps(obj))


def test_equal_graphs_and_cycles():
    a = Holder(x=np.arange(5.0), rng=np.random.default_rng(1), r=random.Random(2), nan=float('nan'))
    a.self = a
    assert same_content(a, roundtrip(a))


@pytest.mark.parametrize('mutate, where', [
    (lambda h: h.x.__setitem__(3, 3.5), "['x'][3]"),
    (lambda h: h.rng.random(), 'rng'),
    (lambda h: h.r.random(), "['r']"),
    (lambda h: setattr(h, 'extra', 1), 'keys'),
    (lambda h: setattr(h, 'f', -0.0), "['f']"),
])
def test_differences_are_found_and_located(mutate, where):
    a = Holder(x=np.arange(5.0), rng=np.random.default_rng(1), r=random.Random(2), f=0.0)
    b = roundtrip(a)
    mutate(b)
    diff = first_difference(a, b)
    assert diff is not None and where in diff, diff


def test_type_and_dtype_differences():
    assert first_difference(1, 1.0) is not None
    assert first_difference(np.zeros(2, np.float32), np.zeros(2, np.float64)) is not None
    assert first_difference([1, 2], [1, 2, 3]) is not None


def test_torch_modules_and_optimizers():
    torch = pytest.importorskip('torch')
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(3)).sum().backward()
    opt.step()
    a = {'model': model, 'opt': opt}
    b = roundtrip(a)
    assert same_content(a, b)
    with torch.no_grad():
        b['model'].bias[1] += 1e-6
    assert 'bias' in first_difference(a, b)
