"""The lab's protocol: every built-in recipe holds out a validation split from data the trials
do not train on (the test set unchanged), and for one seed every method of a study sees the
same split, the same data order and the same initial weights for each weighted layer it
shares (checked through the trial builder and the training loop's shuffle stream)."""
import numpy as np
import pytest

from proxnet.data import check_options, load_dataset
from proxnet.studies.config import list_recipes, load_recipe, validate
from proxnet.studies.trial import build_model, load_data

IMAGE_SETS = ("mnist", "fashion-mnist", "digits", "file")


NO_VALIDATION = {"curve-fit-fixed"}
"""Faithful recipes whose original holds nothing out (six fixed points; a fit reported after
its last epoch): the exception is stated in the recipe and its headline is the final epoch."""


@pytest.mark.parametrize("name", list(list_recipes()))
def test_every_recipe_has_a_validation_split(name):
    if name in NO_VALIDATION:
        study = load_recipe(name)
        assert "Neither experiment has a validation split, as in the original" in study.description
        assert not any(o in ds.options for ds in study.datasets for o in ("n_val", "val_size"))
        return
    for ds in load_recipe(name).datasets:
        o = ds.options
        check_options(ds.name, o)
        if ds.name in IMAGE_SETS:
            assert o.get("subset") == "validation" or o.get("val_size", 0) > 0, (name, o)
        else:
            assert o.get("n_val", 0) > 0, (name, o)


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b)


def test_digits_validation_is_the_end_of_the_training_half():
    opts = load_recipe("digits-quick").datasets[0].options
    d = load_dataset("digits", **opts)
    whole = load_dataset("digits", **{k: v for k, v in opts.items() if k != "val_size"})
    k = opts["val_size"]
    assert _same(d.X_train, whole.X_train[:-k]) and _same(d.X_val, whole.X_train[-k:])
    assert _same(d.y_val, whole.y_train[-k:]) and _same(d.X_test, whole.X_test)


@pytest.mark.parametrize("recipe", ["spiral", "curve-fit"])
def test_generated_validation_is_a_separate_draw_and_changes_nothing_else(recipe):
    for ds in load_recipe(recipe).datasets:
        d = load_dataset(ds.name, **ds.options)
        plain = load_dataset(ds.name, **{k: v for k, v in ds.options.items() if k != "n_val"})
        assert _same(d.X_train, plain.X_train) and _same(d.X_test, plain.X_test)
        assert d.X_val is not None and len(d.X_val) > 0
        def samples(X, y):        # inputs with their targets (a curve's x may repeat)
            return {tuple(r) for r in np.column_stack([X.reshape(len(X), -1),
                                                       np.reshape(y, (len(y), -1))]).tolist()}
        shared = samples(d.X_train, d.y_train) & samples(d.X_val, d.y_val)
        assert {s[:2] for s in shared} <= {(0.0, 0.0)}   # the spiral's arms start at 0


@pytest.mark.parametrize("recipe", ["mnist-1k-overfit", "lenet5-1k"])
def test_mnist_recipes_keep_the_first_1000_and_validate_on_the_end(recipe, mnist_dir):
    from proxnet.data.mnist import load_mnist
    opts = load_recipe(recipe).datasets[0].options
    d = load_dataset("mnist", **opts)
    X, y = load_mnist(split="train", flatten=opts.get("flatten", True))
    Xt, _ = load_mnist(split="test", flatten=opts.get("flatten", True))
    k = opts["val_size"]
    assert _same(d.X_train, X[:1000]) and _same(d.y_train, y[:1000])
    assert _same(d.X_val, X[-k:]) and _same(d.y_val, y[-k:])
    assert _same(d.X_test, Xt[:opts.get("n_test", 2000)])


def pairing_study():
    """Methods that add layers (dropout), change the activation or the loss, regularize."""
    return validate({
        "name": "pairing", "seeds": [0, 3],
        "dataset": {"name": "digits", "options": {"val_size": 200}},
        "model": {"hidden": [24, 12]},
        "training": {"optimizer": "sgd", "lr": 0.05, "epochs": 1, "batch_size": 64},
        "methods": [{"name": "none"},
                    {"name": "l2", "regularizer": "l2", "strengths": [1e-3]},
                    {"name": "prox-l1", "regularizer": "l1", "mode": "prox", "strengths": [1e-3]},
                    {"name": "maxnorm", "regularizer": "max_norm", "mode": "prox",
                     "strengths": [2.0]},
                    {"name": "dropout", "dropout": [0.3, 0.5]},
                    {"name": "sigmoid", "activation": "sigmoid"},
                    {"name": "mse", "loss": "mse"}]})


def _initial_weights(model):
    return [{k: v.copy() for k, v in layer.params.items()} for layer in model.layers
            if layer.params]


def test_for_one_seed_every_method_has_the_same_data_order_and_initial_weights():
    cfg = pairing_study()
    by_seed = {}
    for t in cfg.trials():
        by_seed.setdefault(t.seed, []).append(t)
    first = {}
    for seed, trials in by_seed.items():
        assert len({str(t.config["dataset"]) for t in trials}) == 1       # the same split
        data = load_data(trials[0].config["dataset"], "float32")
        seen = []
        for t in trials:
            assert load_data(t.config["dataset"], "float32") is data
            model = build_model(t.config, data, t.seed)
            weights = _initial_weights(model)
            assert len(weights) == 3 and len(model.layers) > 3
            # one epoch through the real training loop: the shuffle stream afterwards
            model.fit(data.X_train, data.y_train, epochs=1, batch_size=64, seed=t.seed,
                      verbose=False)
            seen.append((t.method, t.strength, weights,
                         model.trainer.shuffle_rng.bit_generator.state))
        _, _, w0, order0 = seen[0]
        for method, strength, w, order in seen[1:]:
            assert order == order0, (method, strength)
            for j, (a, b) in enumerate(zip(w0, w)):
                assert a.keys() == b.keys()
                for k in a:
                    assert np.array_equal(a[k], b[k]), (seed, method, strength, j, k)
        first[seed] = (w0, order0)
    # the check can fail: another seed draws other weights and another order
    (wa, oa), (wb, ob) = first[0], first[3]
    assert oa != ob and not np.array_equal(wa[0]["W"], wb[0]["W"])


def test_dropout_masks_draw_from_their_own_streams():
    """Masks come from each dropout layer's own generator: drawing them leaves the shuffle
    stream (the data order) untouched, and no two layers share a stream."""
    cfg = pairing_study()
    t = next(t for t in cfg.trials() if t.method == "dropout" and t.seed == 0)
    data = load_data(t.config["dataset"], "float32")
    model = build_model(t.config, data, 0)
    model.trainer.reseed(0)
    drops = [layer for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert len(drops) == 2
    shuffle = model.trainer.shuffle_rng
    before = shuffle.bit_generator.state
    states = [shuffle.bit_generator.state] + [d.rng.bit_generator.state for d in drops]
    assert len({str(s) for s in states}) == 3
    x = np.ones((64, 24), dtype=np.float32)
    masks = [d.forward(x[:, :d_in], training=True) == 0
             for d, d_in in zip(drops, (24, 12))]
    assert all(0 < m.mean() < 1 for m in masks)
    assert shuffle.bit_generator.state == before
