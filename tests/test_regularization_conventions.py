"""docs/regularization.md's table of conventions, row by row: the proxnet regularizer's penalty
and gradient equal the foreign formula (as its library writes the penalty and its gradient),
on random arrays; PyTorch's weight_decay is compared step for step with torch."""
import numpy as np
import pytest

from proxnet import Sequential
from proxnet.gradcheck import numerical_gradient, rel_error
from proxnet.layers import Dense, Tanh
from proxnet.regularizers import L1, L2

from .conftest import REPO, away_from_zero

A, LAM = 0.2, 5e-4     # a Keras strength, an nnfs / PyTorch λ


def _keras_l2(w):      # keras.regularizers.L2.__call__ and its autodiff gradient
    return A * np.sum(np.square(w)), 2 * A * w


def _keras_l1(w):      # keras.regularizers.L1.__call__; gradient a·sign(w)
    return A * np.sum(np.abs(w)), A * np.sign(w)


def _nnfs_l2(w):       # nnfs Loss.regularization_loss / Layer_Dense.backward
    return LAM * np.sum(w * w), 2 * LAM * w


def _nnfs_l1(w):
    dl1 = np.ones_like(w)
    dl1[w < 0] = -1
    return LAM * np.sum(np.abs(w)), LAM * dl1


def _cs231n(w):        # CS231n two-layer net: loss += 0.5 * reg * np.sum(W * W); dW += reg * W
    reg = 0.5
    return 0.5 * reg * np.sum(w * w), reg * w


def _sklearn(w):       # scikit-learn MLP _backprop on a batch of b samples
    alpha, b = 1e-4, 200
    return 0.5 * alpha * np.sum(w * w) / b, alpha * w / b


ROWS = [("keras l2(a)", _keras_l2, L2(2 * A)), ("keras l1(a)", _keras_l1, L1(A)),
        ("nnfs λΣw²", _nnfs_l2, L2(2 * LAM)), ("nnfs λΣ|w|", _nnfs_l1, L1(LAM)),
        ("cs231n 0.5·reg·ΣW²", _cs231n, L2(0.5)), ("sklearn alpha", _sklearn, L2(1e-4 / 200))]


@pytest.mark.parametrize("label, foreign, ours", ROWS, ids=[r[0] for r in ROWS])
def test_each_row_gives_the_foreign_penalty_and_gradient(label, foreign, ours, rng):
    w = away_from_zero(rng, (7, 5), 0.05)       # away from L1's kink
    value, grad = foreign(w)
    assert abs(ours.penalty(w) - value) <= 1e-12 * abs(value)
    np.testing.assert_allclose(ours.grad(w), grad, rtol=1e-12, atol=0)
    # the foreign gradient is the gradient of the foreign penalty (the row is self-consistent)
    assert rel_error(grad, numerical_gradient(lambda: foreign(w)[0], w)) < 1e-6


def _pair(reg, optimizer=None, plain_optimizer=None):
    """A 5-4-3 model with ``reg`` on every weight and bias, and its twin without any."""
    def build(r, opt):
        return Sequential([Dense(5, 4, bias_regularizer=r), Tanh(), Dense(4, 3, bias_regularizer=r)],
                          weight_regularizer=r, optimizer=opt, seed=0, dtype="float64")
    return build(reg, optimizer), build(None, plain_optimizer)


@pytest.mark.parametrize("reg, penalty, grad", [
    (L2(2 * LAM), lambda p: LAM * np.sum(p * p), lambda p: 2 * LAM * p),          # λ·Σp²
    (L1(LAM), lambda p: LAM * np.sum(np.abs(p)), lambda p: LAM * np.sign(p)),     # λ·Σ|p|
    (L2(LAM), lambda p: 0.5 * LAM * np.sum(p * p), lambda p: LAM * p),            # weight_decay = λ
], ids=["l2-all-parameters", "l1-all-parameters", "torch-weight-decay"])
def test_all_parameter_penalties_on_a_model(reg, penalty, grad, rng):
    model, plain = _pair(reg)
    X, y = rng.normal(size=(6, 5)), np.arange(6) % 3
    loss, grads = model.loss_and_grads(X, y)
    data_loss, data_grads = plain.loss_and_grads(X, y)
    params = dict(model.named_parameters())
    assert sorted(params) == sorted(model.regularizers()) == ["0.W", "0.b", "2.W", "2.b"]
    expected = data_loss + sum(penalty(p) for p in params.values())
    assert abs(loss - expected) < 1e-12 * abs(expected)
    for name, p in params.items():
        np.testing.assert_allclose(grads[name], data_grads[name] + grad(p), rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("rule", ["sgd", "momentum", "adam"])
def test_torch_weight_decay_is_l2_on_every_parameter(torch, rule, rng):
    """Three full-batch steps of torch's optimizer with weight_decay=λ against proxnet with
    L2(λ) on weights and biases, and against the optimizer's own weight_decay=λ."""
    lam, lr = 0.05, 0.1
    X, y = rng.normal(size=(8, 5)), np.arange(8) % 3
    opts = {"sgd": ({"kind": "sgd", "lr": lr}, lambda p: torch.optim.SGD(p, lr=lr, weight_decay=lam)),
            "momentum": ({"kind": "momentum", "lr": lr, "momentum": 0.9},
                         lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=lam)),
            "adam": ({"kind": "adam", "lr": lr}, lambda p: torch.optim.Adam(p, lr=lr, weight_decay=lam))}
    ours, theirs = opts[rule]
    with_l2, plain = _pair(L2(lam), ours, {**ours, "weight_decay": lam})
    W0, b0, W1, b1 = (torch.tensor(p.copy(), requires_grad=True) for _, p in with_l2.named_parameters())
    topt = theirs([W0, b0, W1, b1])
    for _ in range(3):
        topt.zero_grad()
        out = torch.tanh(torch.from_numpy(X) @ W0 + b0) @ W1 + b1
        torch.nn.functional.cross_entropy(out, torch.from_numpy(y)).backward()
        topt.step()
    for model in (with_l2, plain):
        model.fit(X, y, epochs=3, batch_size=8, shuffle=False, verbose=False, eval_train=False)
        for (name, p), t in zip(model.named_parameters(), (W0, b0, W1, b1)):
            np.testing.assert_allclose(p, t.detach().numpy(), rtol=0, atol=1e-12, err_msg=name)


def test_the_docs_table_lists_every_row():
    text = (REPO / "docs" / "regularization.md").read_text()
    table = text[text.index("## Other conventions"):]
    for cell in ("Keras `kernel_regularizer=l2(a)` | `L2(2a)`", "Keras `kernel_regularizer=l1(a)` | `L1(a)`",
                 "`L2(2λ)` (`bias_regularizer=L2(2λ)`)", "nnfs `weight_regularizer_l1=λ` | `L1(λ)`",
                 "CS231n `reg` | `L2(reg)`", "weight_decay=λ)` | `L2(λ)` on weights and biases",
                 "λ·Σp² over all parameters | hand-written in PyTorch training loops | `L2(2λ)` on weights and biases",
                 "λ·Σ\\|p\\| over all parameters | hand-written in PyTorch training loops | `L1(λ)` on weights and biases",
                 "`MLPClassifier(alpha=α)` | `L2(α/b)`"):
        assert cell in table, cell
    block = table[table.index("```python") + len("```python"):]
    exec(compile(block[:block.index("```")], "regularization.md", "exec"), {"__name__": "__doc__"})
