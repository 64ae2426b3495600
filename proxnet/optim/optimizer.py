"""The optimizer object: a rule from :mod:`proxnet.optim.rules` plus per-parameter state.

One call ``new_params = opt.step(params, grads)`` does, for every named parameter w with
gradient g, in this order (each step optional, all as in PyTorch):

1. clip: g ← g·c/(‖G‖ + 1e-6) when that factor is < 1, with ‖G‖ the L2 norm of all
   gradients together (``torch.nn.utils.clip_grad_norm_(..., max_norm=c)``);
2. coupled weight decay: g ← g + wd·w (``weight_decay=wd`` of torch's SGD, RMSprop, Adam);
3. decoupled weight decay: w ← w·(1 − lr·dwd) (Loshchilov & Hutter; torch's AdamW);
4. the rule: w, state ← rule.step(w, g, state, hp).

Weight decay here is a property of the optimizer; the regularizers of
:mod:`proxnet.regularizers` (``L2`` as a penalty or a prox) are the model-side way.
"""
from __future__ import annotations

import fnmatch
import math

import numpy as np

from .rules import RULES, Rule, check_nonnegative, check_positive
from .schedules import Schedule, get_schedule

__all__ = ["Optimizer", "get_optimizer"]

_OPTIONS = ("lr", "schedule", "clip_norm", "weight_decay", "decoupled_weight_decay",
            "weight_decay_filter")


def _filter_spec(spec):
    """None | callable | glob pattern(s) -> (callable or None, JSON form or None)."""
    if spec is None:
        return None, None
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, (list, tuple)) and all(isinstance(p, str) for p in spec):
        pats = list(spec)
        return (lambda name: any(fnmatch.fnmatchcase(name, p) for p in pats)), pats
    if callable(spec):
        return spec, None
    raise ValueError(
        "weight_decay_filter: expected None, a callable name -> bool, or glob pattern(s) "
        f"of the names to decay such as ['*.W'], got {spec!r}")


class Optimizer:
    """Gradient-based optimizer keeping per-parameter state by name.

    Parameters
    ----------
    rule : str
        One of :data:`~proxnet.optim.rules.RULES`: ``"sgd"``, ``"momentum"``,
        ``"nesterov"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``.
    lr : float, optional
        Base learning rate (> 0). Default: the rule's (0.01 for the SGD family,
        0.001 for rmsprop, adam and adamw).
    schedule : None, str, dict, Schedule or callable
        See :func:`~proxnet.optim.schedules.get_schedule`. The current learning rate
        is ``lr = base_lr · schedule(epoch)``, set by :meth:`set_epoch`.
    clip_norm : float, optional
        Clip the global L2 norm of all gradients to this value (as torch's ``clip_grad_norm_``).
    weight_decay : float
        Coupled decay: g ← g + wd·w before the rule (any rule; refused with ``"adamw"``,
        which has its own ``wd``).
    decoupled_weight_decay : float
        w ← w·(1 − lr·dwd) before the rule's update (any rule except ``"adamw"``,
        where it is the rule's ``wd``). With ``"adam"`` this is exactly AdamW.
    weight_decay_filter : None, callable, str or list of str
        Which parameters are decayed (both kinds of decay, and adamw's ``wd``):
        a callable ``name -> bool``, or glob pattern(s) of the names to decay, such as
        ``"*.W"`` to spare biases. Default: all parameters, as PyTorch.
    **rule_hyperparams
        The rule's own hyperparameters: ``momentum``, ``nesterov``, ``alpha``, ``eps``,
        ``betas``, ``wd`` (see :data:`~proxnet.optim.rules.RULES` for each rule's set).

    Attributes
    ----------
    lr : float
        Current learning rate (used by :meth:`step`; a prox step should use it too).
    base_lr : float
    epoch : int
        Last epoch given to :meth:`set_epoch` (0 initially).
    step_count : int
        Number of :meth:`step` calls.
    state : dict[str, dict]
        Per-parameter rule state, by parameter name.

    Examples
    --------
    >>> import numpy as np
    >>> opt = Optimizer("momentum", lr=0.1, momentum=0.9)
    >>> p = opt.step({"w": np.ones(2)}, {"w": np.ones(2)})
    >>> p["w"]
    array([0.9, 0.9])
    """

    def __init__(self, rule: str = "sgd", lr: float | None = None, *, schedule=None,
                 clip_norm: float | None = None, weight_decay: float = 0.0,
                 decoupled_weight_decay: float = 0.0, weight_decay_filter=None,
                 **rule_hyperparams):
        r: Rule = RULES.get_item(rule)
        unknown = sorted(set(rule_hyperparams) - set(r.defaults))
        if unknown:
            raise ValueError(
                f"optimizer {r.name!r}: unknown hyperparameter(s) {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join([*_OPTIONS, *r.defaults])}")
        hp = r.hyperparams(lr, **rule_hyperparams)
        self.rule = r
        self.base_lr = hp.pop("lr")
        self.hyperparams = hp
        self.schedule = get_schedule(schedule)
        self.clip_norm = None if clip_norm is None else check_positive(clip_norm, "clip_norm")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.decoupled_weight_decay = check_nonnegative(decoupled_weight_decay,
                                                        "decoupled_weight_decay")
        if r.decay_key and (self.weight_decay or self.decoupled_weight_decay):
            raise ValueError(
                f"optimizer {r.name!r} has its own decoupled weight decay: set it with "
                f"{r.decay_key}=..., not weight_decay / decoupled_weight_decay")
        self._decays, self._filter_json = _filter_spec(weight_decay_filter)
        self.weight_decay_filter = weight_decay_filter
        self.state: dict[str, dict] = {}
        self.step_count = 0
        self.set_epoch(0)

    def configure(self, lr: float | None = None, **rule_hyperparams) -> None:
        """Change the base learning rate and/or the rule's hyperparameters (e.g.
        ``momentum``) in place, checked as in the constructor; the state (moments, step
        count) is kept. The current ``lr`` follows at once."""
        hp = self.rule.hyperparams(self.base_lr if lr is None else lr,
                                   **{**self.hyperparams, **rule_hyperparams})
        self.base_lr = hp.pop("lr")
        self.hyperparams = hp
        self.set_epoch(self.epoch)

    # ------------------------------------------------------------------ schedule
    def set_epoch(self, epoch: int) -> float:
        """Set ``self.lr = base_lr · schedule(epoch)`` (``base_lr`` without a schedule); return it."""
        if isinstance(epoch, bool) or not hasattr(epoch, "__index__") or int(epoch) < 0:
            raise ValueError(f"epoch: expected an integer >= 0, got {epoch!r}")
        factor = 1.0 if self.schedule is None else self.schedule(int(epoch))
        lr = self.base_lr * float(factor)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"schedule: gave learning rate {lr!r} at epoch {epoch}; expected >= 0")
        self.epoch, self.lr = int(epoch), lr
        return lr

    # ---------------------------------------------------------------------- step
    def _check(self, params, grads):
        missing = [n for n in params if n not in grads]
        if missing:
            raise ValueError(f"grads: missing gradient for parameter(s) {', '.join(map(repr, missing))}")
        extra = [n for n in grads if n not in params]
        if extra:
            raise ValueError(f"grads: gradient(s) for unknown parameter(s) {', '.join(map(repr, extra))}")
        out = {}
        for name, w in params.items():
            g = grads[name]
            if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
                raise ValueError(f"params[{name!r}]: expected a float ndarray, got {type(w).__name__}")
            if np.shape(g) != w.shape:
                raise ValueError(
                    f"grads[{name!r}]: expected shape {w.shape} (that of the parameter), got {np.shape(g)}")
            out[name] = np.asarray(g, dtype=w.dtype)
            for k, s in self.state.get(name, {}).items():
                if isinstance(s, np.ndarray) and s.shape != w.shape:
                    raise ValueError(
                        f"state[{name!r}][{k!r}]: shape {s.shape} does not match the parameter {w.shape}")
        return out

    def _clip_scale(self, grads) -> float:
        if self.clip_norm is None:
            return 1.0
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
        if not math.isfinite(norm):
            raise ValueError(f"grads: the global gradient norm is {norm} (NaN or inf values)")
        return self.clip_norm / (norm + 1e-6)

    def step(self, params: dict, grads: dict) -> dict:
        """Return the updated parameters (new arrays; inputs are not modified).

        Parameters
        ----------
        params : dict[str, ndarray]
            Parameters by name.
        grads : dict[str, ndarray]
            Their gradients, the same names and shapes (cast to each parameter's dtype).

        Returns
        -------
        dict[str, ndarray]
            New parameters, same names, shapes and dtypes. The caller stores them.
        """
        grads = self._check(params, grads)
        scale = self._clip_scale(grads)
        hp = {"lr": float(self.lr), **self.hyperparams}
        hp_nodecay = {**hp, self.rule.decay_key: 0.0} if self.rule.decay_key else hp
        wd, dwd = self.weight_decay, self.decoupled_weight_decay
        new_params, new_state = {}, {}
        for name, w in params.items():
            g = grads[name]
            decay = self._decays is None or bool(self._decays(name))
            if scale < 1.0:
                g = g * scale
            if decay and wd:
                t = w * wd
                t += g
                g = t
            if decay and dwd:
                w = w * (1.0 - hp["lr"] * dwd)
            state = self.state.get(name)
            if state is None:
                state = self.rule.init(w)
            new_params[name], new_state[name] = self.rule.step(w, g, state, hp if decay else hp_nodecay)
        self.state.update(new_state)
        self.step_count += 1
        return new_params

    # --------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Return a flat dict of numpy arrays and scalars (ready for ``np.savez``).

        Keys: ``"rule"``, ``"step_count"``, ``"epoch"``, ``"lr"`` and
        ``"state/<param name>/<key>"`` for every entry of :attr:`state`. Arrays are
        shared, not copied (proxnet never modifies them in place).
        """
        d = {"rule": self.rule.name, "step_count": self.step_count, "epoch": self.epoch,
             "lr": self.lr}
        for name, st in self.state.items():
            for k, v in st.items():
                d[f"state/{name}/{k}"] = v
        return d

    def load_state_dict(self, d: dict) -> None:
        """Replace the state with ``d`` from :meth:`state_dict` (0-d arrays, as from
        ``np.load``, are accepted for scalars). The rule must match."""
        rule = str(d.get("rule", ""))
        if rule != self.rule.name:
            raise ValueError(f"state_dict: saved for optimizer rule {rule!r}, this one is {self.rule.name!r}")
        state: dict[str, dict] = {}
        for key, v in d.items():
            if key in ("rule", "step_count", "epoch", "lr"):
                continue
            if not key.startswith("state/") or key.count("/") < 2:
                raise ValueError(
                    f"state_dict: unexpected key {key!r}; expected rule, step_count, epoch, lr "
                    "or 'state/<param>/<key>'")
            name, k = key[len("state/"):].rsplit("/", 1)
            state.setdefault(name, {})[k] = int(v) if k == "t" else np.array(v)
        try:
            step_count, epoch, lr = int(d["step_count"]), int(d["epoch"]), float(d["lr"])
        except KeyError as exc:
            raise ValueError(f"state_dict: missing key {exc.args[0]!r}") from None
        self.state, self.step_count, self.epoch, self.lr = state, step_count, epoch, lr

    # -------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """JSON-serializable constructor arguments: ``Optimizer(**opt.get_config())``.

        Raises ``ValueError`` when the schedule or the weight-decay filter is a plain
        callable (it has no config; use a named schedule / glob patterns)."""
        if self.schedule is not None and not isinstance(self.schedule, Schedule):
            raise ValueError(f"schedule: a plain callable {self.schedule!r} cannot be written to a config")
        if self.weight_decay_filter is not None and self._filter_json is None:
            raise ValueError("weight_decay_filter: a callable cannot be written to a config; "
                             "use glob patterns of the names to decay, such as ['*.W']")
        hp = {k: list(v) if isinstance(v, tuple) else v for k, v in self.hyperparams.items()}
        return {"rule": self.rule.name, "lr": self.base_lr, **hp,
                "schedule": None if self.schedule is None else self.schedule.to_dict(),
                "clip_norm": self.clip_norm, "weight_decay": self.weight_decay,
                "decoupled_weight_decay": self.decoupled_weight_decay,
                "weight_decay_filter": self._filter_json}

    def to_dict(self) -> dict:
        """``{"kind": rule, ...}``: the form :func:`get_optimizer` takes."""
        cfg = self.get_config()
        return {"kind": cfg.pop("rule"), **cfg}

    def __repr__(self):
        parts = [repr(self.rule.name), f"lr={self.base_lr!r}"]
        parts += [f"{k}={v!r}" for k, v in self.hyperparams.items()]
        for k in ("schedule", "clip_norm", "weight_decay", "decoupled_weight_decay",
                  "weight_decay_filter"):
            v = getattr(self, k)
            if v:
                parts.append(f"{k}={v!r}")
        return f"Optimizer({', '.join(parts)})"


def get_optimizer(spec) -> Optimizer:
    """Build an optimizer from plain data.

    ``spec`` is an :class:`Optimizer` (returned as is), a rule name such as ``"adam"``,
    or a dict such as ``{"kind": "sgd", "lr": 0.1, "momentum": 0.9,
    "schedule": {"kind": "exponential", "decay": 0.95}}`` (``"rule"`` is accepted for
    ``"kind"``, so ``get_optimizer(opt.get_config())`` works).
    """
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return Optimizer(spec)
    if isinstance(spec, dict):
        spec = dict(spec)
        if "kind" in spec and "rule" in spec:
            raise ValueError(f"optimizer: give 'kind' or 'rule', not both, got {spec!r}")
        kind = spec.pop("kind", spec.pop("rule", None))
        if kind is None:
            raise ValueError(f"optimizer: dict needs a 'kind' key, got {spec!r}")
        return Optimizer(kind, **spec)
    raise ValueError(
        "optimizer: expected an Optimizer, a name or a dict like "
        f"{{'kind': 'sgd', 'lr': 0.1, 'momentum': 0.9}}, got {spec!r}")
