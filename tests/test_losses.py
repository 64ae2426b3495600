"""Fused losses: gradient checks, stability, validation and the PyTorch oracle."""
import numpy as np
import pytest

from proxnet.gradcheck import check_loss
from proxnet.losses import LOSSES, get_loss


def _sig(z):
    return 1 / (1 + np.exp(-z))


def test_softmax_ce_gradcheck_int_and_onehot(rng):
    z = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, 6)
    assert check_loss("softmax_cross_entropy", z, y) < 1e-7
    onehot = np.eye(4)[y]
    assert check_loss("ce", z, onehot) < 1e-7
    a, da = get_loss("ce")(z, y)
    b, db = get_loss("ce")(z, onehot)
    assert a == pytest.approx(b, abs=1e-14)
    np.testing.assert_allclose(da, db, atol=1e-15)


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "mse"])
def test_elementwise_losses_gradcheck(name, rng):
    z = rng.normal(size=(5, 3))
    t = rng.uniform(size=(5, 3))
    assert check_loss(name, z, t) < 1e-7


def test_bce_on_probabilities_gradcheck(rng):
    p = _sig(rng.normal(size=(5, 3)))
    assert check_loss("binary_cross_entropy", p, rng.uniform(size=(5, 3))) < 1e-6


def test_mse_with_int_labels_is_one_hot(rng):
    z = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    a, da = get_loss("mse")(z, y)
    b, db = get_loss("mse")(z, np.eye(3)[y])
    assert a == b
    np.testing.assert_array_equal(da, db)


def test_softmax_ce_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dz = get_loss("ce")(z, np.array([0, 1]))
    assert loss == pytest.approx(0.0, abs=1e-12)
    loss, dz = get_loss("ce")(z, np.array([2, 0]))
    assert np.isfinite(loss) and loss == pytest.approx((2000 + 2e4) / 2)


def test_bce_logits_is_stable():
    z = np.array([[800.0], [-800.0]])
    with np.errstate(over="raise"):
        loss, dz = get_loss("bce_logits")(z, np.array([0.0, 1.0]))
    assert loss == pytest.approx(800.0)


def test_labels_out_of_range_and_shape_errors(rng):
    z = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match=r"targets: labels must be in \[0, 3\]"):
        get_loss("ce")(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="expected 3 labels"):
        get_loss("ce")(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="targets: expected shape"):
        get_loss("mse")(z, np.ones((3, 2)))
    with pytest.raises(ValueError, match="probabilities"):
        get_loss("bce")(z * 10, np.ones((3, 4)))
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names:.*softmax_cross_entropy"):
        get_loss("hinge")


def test_mean_over_batch(rng):
    z = rng.normal(size=(4, 3))
    y = rng.integers(0, 3, 4)
    single = [get_loss("ce")(z[i:i + 1], y[i:i + 1])[0] for i in range(4)]
    assert get_loss("ce")(z, y)[0] == pytest.approx(np.mean(single))


# -- PyTorch oracle -----------------------------------------------------------------------

def _oracle(torch, fn, z, *targets):
    zt = torch.tensor(z, requires_grad=True)
    loss = fn(zt, *[torch.tensor(t) for t in targets])
    loss.backward()
    return loss.item(), zt.grad.numpy()


@pytest.mark.parametrize("case", ["ce_int", "ce_soft", "bce_logits", "bce", "mse", "mse_onehot"])
def test_losses_match_torch(torch, rng, case):
    F = torch.nn.functional
    z = rng.normal(size=(7, 4)) * 3
    y = rng.integers(0, 4, 7)
    t = rng.uniform(size=(7, 4))
    if case == "ce_int":
        ours, ref = get_loss("ce")(z, y), _oracle(torch, F.cross_entropy, z, y)
    elif case == "ce_soft":
        soft = t / t.sum(1, keepdims=True)
        ours, ref = get_loss("ce")(z, soft), _oracle(torch, F.cross_entropy, z, soft)
    elif case == "bce_logits":
        ours, ref = get_loss("bce_logits")(z, t), _oracle(torch, F.binary_cross_entropy_with_logits, z, t)
    elif case == "bce":
        p = _sig(z)
        ours, ref = get_loss("bce")(p, t), _oracle(torch, F.binary_cross_entropy, p, t)
    elif case == "mse":
        ours, ref = get_loss("mse")(z, t), _oracle(torch, F.mse_loss, z, t)
    else:
        ours, ref = get_loss("mse")(z, y), _oracle(torch, F.mse_loss, z, np.eye(4)[y])
    assert ours[0] == pytest.approx(ref[0], abs=1e-10, rel=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=0, atol=1e-10)


def test_registry_names():
    for name in ("softmax_cross_entropy", "ce", "binary_cross_entropy", "bce",
                 "binary_cross_entropy_with_logits", "mse"):
        assert name in LOSSES
