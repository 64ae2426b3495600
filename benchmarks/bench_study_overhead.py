"""What per-epoch writes and checkpoints cost a study: wall time of the same study run in
three modes, taking turns (A, B, C, A, B, C, ...) so that a busy machine's drift hits all
alike. Each run is a fresh process (worker start-up included), into a fresh folder.

- ``live``: the default — running trials write their epochs to the store as they go (at
  most once a second) and a checkpoint at most every 60 s;
- ``ckpt0``: live, with a checkpoint after every epoch (``--checkpoint-every 0``: the worst
  case);
- ``end``: ``live=False`` — each trial's results are stored when it ends, no checkpoints
  (what proxnet 0.1 did, and what remote Dask workers without the study folder do).

    PROXNET_DATA=/path/to/data python benchmarks/bench_study_overhead.py \\
        --recipe mnist-1k-overfit --epochs 50 --jobs 2 --repeats 3

Prints each run's seconds and, per mode, the median and its ratio to ``end``. ``--micro``
measures the operations themselves in one process instead: an epoch of the recipe's first
trial, one store write of an epoch, one checkpoint.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = {"live": {}, "ckpt0": {"checkpoint_every": 0.0}, "end": {"live": False}}

CHILD = """
import json, sys, time
from proxnet.studies.config import load_recipe
from proxnet.studies.runner import run_study
args = json.loads(sys.argv[1])
cfg = load_recipe(args["recipe"]).with_overrides(epochs=args["epochs"], seeds=args["seeds"])
t0 = time.perf_counter()
run = run_study(cfg, args["out"], jobs=args["jobs"], progress=False, **args["mode"])
print(json.dumps({"seconds": time.perf_counter() - t0, "counts": run.counts}))
"""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_once(recipe, epochs, seeds, jobs, mode, root) -> float:
    out = Path(tempfile.mkdtemp(dir=root))
    args = {"recipe": recipe, "epochs": epochs, "seeds": seeds, "jobs": jobs, "out": str(out / "s"),
            "mode": MODES[mode]}
    res = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True,
                         text=True, check=True)
    data = json.loads(res.stdout.strip().splitlines()[-1])
    if set(data["counts"]) != {"done"}:
        raise SystemExit(f"{mode}: not every trial finished: {data['counts']}")
    return data["seconds"]


MICRO = """
import json, statistics, sys, tempfile, time
from pathlib import Path
from proxnet.studies import checkpoints
from proxnet.studies.config import load_recipe
from proxnet.studies.runner import preflight
from proxnet.studies.store import Store, TrialWriter
from proxnet.studies.trial import build_model, load_data, _Recorder
args = json.loads(sys.argv[1])
cfg = load_recipe(args["recipe"]).with_overrides(epochs=args["epochs"], seeds=1)
t = cfg.trials()[0]
data = load_data(t.config["dataset"], t.config["model"]["dtype"])
model = build_model(t.config, data, 0)
rec = _Recorder(data, None, planned=args["epochs"])
tr = t.config["training"]
epoch_s = []
for e in range(args["epochs"]):
    t0 = time.perf_counter()
    model.fit(data.X_train, data.y_train, epochs=1, batch_size=tr["batch_size"] or None,
              seed=0 if e == 0 else None, callbacks=[rec], verbose=False)
    epoch_s.append(time.perf_counter() - t0)
with tempfile.TemporaryDirectory() as d:
    with Store(d) as st:
        st.init_study(cfg); st.add_trials(cfg.trials())
    w = TrialWriter(Path(d) / "study.db")
    w.start(t.key, 0, {}, "bench")
    write_s = []
    for e in range(args["epochs"]):
        t0 = time.perf_counter(); w.epochs(t.key, rec.series, e, e + 1); write_s.append(time.perf_counter() - t0)
    ckpt_s = []
    for e in range(5):
        t0 = time.perf_counter()
        checkpoints.save(d, t.key, model, args["epochs"], {"series": rec.series, "grad_norms": rec.grad_norms(), "elapsed": 1.0})
        w.checkpointed(t.key, args["epochs"])
        ckpt_s.append(time.perf_counter() - t0)
    size = sum(p.stat().st_size for p in (Path(d) / "checkpoints").iterdir())
    w.close()
med = statistics.median
print(f"per epoch of training + measuring: {med(epoch_s)*1e3:.1f} ms (median of {len(epoch_s)})")
print(f"per write of one epoch to the store: {med(write_s)*1e3:.2f} ms ({med(write_s)/med(epoch_s)*100:.2f} % of an epoch; "
      f"the trials write at most once a second)")
print(f"per checkpoint after {args['epochs']} epochs: {med(ckpt_s)*1e3:.1f} ms, {size/1e6:.2f} MB "
      f"({med(ckpt_s)/med(epoch_s)*100:.1f} % of an epoch; at most one per --checkpoint-every s, default 60)")
"""


def micro(recipe, epochs):
    """Per-operation costs in one process: an epoch, a store write of one epoch, a checkpoint."""
    res = subprocess.run([sys.executable, "-c", MICRO, json.dumps({"recipe": recipe, "epochs": epochs})],
                         capture_output=True, text=True, check=True)
    print(res.stdout.strip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="mnist-1k-overfit")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="live,ckpt0,end")
    ap.add_argument("--micro", action="store_true",
                    help="only the per-operation costs (an epoch, one write, one checkpoint)")
    a = ap.parse_args(argv)
    if a.micro:
        print(f"{a.recipe}, first trial; {cpu_name()}")
        micro(a.recipe, a.epochs)
        return
    modes = a.modes.split(",")
    times: dict[str, list[float]] = {m: [] for m in modes}
    print(f"{a.recipe} --epochs {a.epochs} --jobs {a.jobs}; {cpu_name()}; turns {modes} x {a.repeats}")
    with tempfile.TemporaryDirectory() as root:
        for r in range(a.repeats):
            for m in modes:
                t0 = time.time()
                s = run_once(a.recipe, a.epochs, a.seeds, a.jobs, m, root)
                times[m].append(s)
                print(f"  repeat {r + 1} {m:6s} {s:7.1f} s  (at {time.strftime('%H:%M:%S', time.localtime(t0))})",
                      flush=True)
    base = statistics.median(times["end"]) if "end" in times else None
    for m in modes:
        med = statistics.median(times[m])
        ratio = f"  {med / base:.3f} x end" if base else ""
        print(f"{m:6s} median {med:7.1f} s  (runs: {', '.join(f'{x:.1f}' for x in times[m])}){ratio}")


if __name__ == "__main__":
    main()
