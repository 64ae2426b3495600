"""proxnet.sklearn.MLPClassifier vs scikit-learn's MLPClassifier on the 8x8 digits.

Both estimators train the same architecture (64-100-10, relu, softmax) with the same
optimizer (Adam, lr 1e-3, betas 0.9/0.999, eps 1e-8), batch size (200), number of epochs
(``--epochs``, every epoch run: ``n_iter_no_change`` is set to the epoch count so that
neither stops on a loss plateau) and L2 strength: scikit-learn's ``alpha`` (default 1e-4)
becomes proxnet's ``alpha / batch_size`` (scikit-learn divides its penalty by the number
of samples of each mini-batch, so the two agree exactly on the seven full batches of an
epoch and scikit-learn's penalty is 200/38 times stronger on its last batch of 38; see
docs/sklearn.md). Neither regularizes biases. They differ where the libraries do:
initialization (He-normal for proxnet's relu, Glorot-uniform for scikit-learn), shuffling
streams, and the place of Adam's eps (PyTorch's form for proxnet).

Data: ``proxnet.data.load_dataset("digits", seed=s)`` (stratified 80/20 split, pixels in
[0, 1], float32) for each seed s; both estimators get the same float32 arrays (so
scikit-learn computes in float32 too; ``--dtype float64`` gives both float64).
``random_state=s`` for both. The two fits alternate (proxnet first on even seeds,
scikit-learn first on odd ones) in one process, under the same thread limit
(``--threads``, default 1: OMP/OPENBLAS/MKL_NUM_THREADS are set before NumPy is imported
and threadpoolctl enforces the limit; small matmuls are fastest single-threaded and the
timings are steadier on a shared machine). One warm-up fit of each, untimed, comes first.
Fit time is the wall-clock time of ``fit``; accuracy is on the held-out 20%.

Usage::

    python benchmarks/bench_sklearn.py                  # 5 seeds, 200 epochs
    python benchmarks/bench_sklearn.py --seeds 10 --epochs 100 --threads 2
    python benchmarks/bench_sklearn.py --profile        # where proxnet's fit spends its time
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

# BLAS / OpenMP threads are fixed before NumPy is imported (the thread pools read these
# variables when they start); threadpoolctl enforces the same limit again at run time.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--hidden", type=int, nargs="+", default=[100])
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--alpha", type=float, default=1e-4, help="scikit-learn's alpha")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true",
                   help="also profile one proxnet fit and print the top functions")
    return p.parse_args(argv)


def make_pair(args, seed):
    """Our estimator and scikit-learn's, configured alike (see the module docstring)."""
    from sklearn.neural_network import MLPClassifier as SkMLP

    from proxnet.sklearn import MLPClassifier

    common = dict(hidden_layer_sizes=tuple(args.hidden), activation="relu",
                  batch_size=args.batch, n_iter_no_change=args.epochs, tol=0.0,
                  random_state=seed)
    ours = MLPClassifier(regularizer="l2", alpha=args.alpha / args.batch, mode="penalty",
                         optimizer="adam", learning_rate=args.lr, max_epochs=args.epochs,
                         dtype=args.dtype, **common)
    theirs = SkMLP(solver="adam", alpha=args.alpha, learning_rate_init=args.lr,
                   max_iter=args.epochs, **common)
    return ours, theirs


def timed_fit(est, X, y):
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0


def mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None):
    args = _parse(argv)
    for var in _THREAD_VARS:
        os.environ[var] = str(args.threads)
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    from proxnet.data import load_dataset

    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    with threadpool_limits(args.threads):
        # Warm-up (imports, BLAS initialization, page faults) outside the timings.
        d = load_dataset("digits", seed=0)
        for est in make_pair(argparse.Namespace(**{**vars(args), "epochs": 2}), 0):
            est.fit(d.X_train.astype(args.dtype), d.y_train)
        for seed in range(args.seeds):
            d = load_dataset("digits", seed=seed)
            X, y = d.X_train.astype(args.dtype), d.y_train
            ours, theirs = make_pair(args, seed)
            order = [("ours", ours), ("sklearn", theirs)]
            if seed % 2:
                order.reverse()
            res = {"seed": seed}
            for name, est in order:
                res[f"{name}_time"] = timed_fit(est, X, y)
                res[f"{name}_acc"] = est.score(d.X_test.astype(args.dtype), d.y_test)
                res[f"{name}_epochs"] = est.n_iter_
            rows.append(res)
            print(f"seed {seed}: proxnet acc {res['ours_acc']:.4f} in {res['ours_time']:.3f} s "
                  f"({res['ours_epochs']} epochs) | scikit-learn acc {res['sklearn_acc']:.4f} in "
                  f"{res['sklearn_time']:.3f} s ({res['sklearn_epochs']} epochs) | "
                  f"speed-up {res['sklearn_time'] / res['ours_time']:.2f}x", flush=True)

        print(f"\ndigits, {len(d.X_train)} train / {len(d.X_test)} test, 64-"
              f"{'-'.join(map(str, args.hidden))}-10 relu, adam lr {args.lr}, batch {args.batch}, "
              f"{args.epochs} epochs, L2 (sklearn alpha {args.alpha} = proxnet alpha "
              f"{args.alpha / args.batch:.3g}), {args.dtype}, {args.threads} BLAS thread(s), "
              f"{args.seeds} seeds")
        print(f"{'':14s}{'test accuracy':>22s}{'fit time (s)':>22s}")
        for name, label in (("ours", "proxnet"), ("sklearn", "scikit-learn")):
            am, asd = mean_std([r[f"{name}_acc"] for r in rows])
            tm, tsd = mean_std([r[f"{name}_time"] for r in rows])
            print(f"{label:14s}{am:>13.4f} ± {asd:.4f}{tm:>14.3f} ± {tsd:.3f}")
        ratios = [r["sklearn_time"] / r["ours_time"] for r in rows]
        rm, rsd = mean_std(ratios)
        acc_diff = [r["ours_acc"] - r["sklearn_acc"] for r in rows]
        dm, dsd = mean_std(acc_diff)
        print(f"fit-time ratio scikit-learn / proxnet: {rm:.2f} ± {rsd:.2f} "
              f"(ratio of means {statistics.mean(r['sklearn_time'] for r in rows) / statistics.mean(r['ours_time'] for r in rows):.2f})")
        print(f"accuracy difference proxnet − scikit-learn: {dm:+.4f} ± {dsd:.4f}")

        if args.profile:
            import cProfile
            import io
            import pstats
            d = load_dataset("digits", seed=0)
            ours, _ = make_pair(args, 0)
            prof = cProfile.Profile()
            prof.enable()
            ours.fit(d.X_train.astype(args.dtype), d.y_train)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
            print("\nproxnet fit, top functions by own time:\n" + out.getvalue())


if __name__ == "__main__":
    main()
