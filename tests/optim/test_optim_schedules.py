"""Learning-rate schedules: factors of the base lr, configs, get_schedule forms."""
import math

import pytest

from proxnet.optim import (SCHEDULES, Constant, CosineAnnealing, ExponentialDecay, Optimizer,
                           StepDecay, get_schedule)


def test_closed_forms():
    assert ExponentialDecay(0.5)(3) == 0.125
    assert [StepDecay(2, 0.1)(e) for e in range(5)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    c = CosineAnnealing(t_max=4, min_factor=0.2)
    assert c(0) == 1.0 and c(4) == pytest.approx(0.2)
    assert c(2) == pytest.approx(0.2 + 0.8 * 0.5) and c(8) == pytest.approx(1.0)  # periodic, as torch
    assert Constant()(99) == 1.0


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_starts_at_one_and_round_trips(name):
    s = get_schedule(name)
    assert s(0) == 1.0
    assert get_schedule(s.to_dict()) == s and get_schedule(s) is s
    assert repr(s).startswith(type(s).__name__)


def test_get_schedule_forms_and_optimizer_convention():
    assert get_schedule(None) is None
    f = lambda e: 1.0 / (1 + e)  # noqa: E731
    assert get_schedule(f) is f
    opt = Optimizer("sgd", lr=0.2, schedule=f)
    assert opt.set_epoch(3) == pytest.approx(0.05) and opt.lr == pytest.approx(0.05)
    assert Optimizer("sgd", lr=0.2).set_epoch(7) == 0.2  # no schedule: constant
    bad = Optimizer("sgd", schedule=lambda e: 1.0 - e)
    with pytest.raises(ValueError, match="learning rate"):
        bad.set_epoch(2)
    with pytest.raises(ValueError, match="unknown schedule 'linear'; valid names: constant, cosine"):
        get_schedule("linear")
    assert math.isclose(get_schedule({"kind": "exponential"})(1), 0.95)
