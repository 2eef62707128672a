"""Training speed under other processes' load: ``threads='auto'`` against torch's default threads.

A default ``AutoEncoder(code_size=30)`` trains on 20,000 Fashion-MNIST images (uniform noise of
that shape where the Debian package is absent) for a fixed number of epochs, and its samples per
second are measured three ways in one run: on the idle machine, then beside ``--busy`` CPU-bound
processes (plain Python loops, one per core by default), each with ``threads='auto'`` and with
torch's own default (one thread per CPU). Issue 21's target: with two busy processes on a 2-core
machine, ``threads='auto'`` keeps at least 0.25x of its idle speed (its fair share is about a
third of the machine).

Prints one JSON object. Run it alone: the point is to control what else runs.

    python -m benchmarks threads [--epochs 3] [--busy 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
import torch

import hourglass
from benchmarks.common import emit, fashion_or_noise, output_path, parse, warm_up


def _spin(stop) -> None:
    """A CPU-bound process until ``stop`` is set."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def rate(X: np.ndarray, epochs: int, threads) -> dict:
    ae = hourglass.AutoEncoder(code_size=30, epochs=epochs, threads=threads, random_state=0, device="cpu")
    tic = time.perf_counter()
    ae.fit(X)
    seconds = time.perf_counter() - tic
    return {
        "samples_per_s": round(len(X) * 0.9 * epochs / seconds),
        "threads": ae.history_.recipe["threads"],
        "rule": ae.history_.recipe["threads_rule"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--samples", type=int, default=20_000)
    args = parse(parser, argv, "threads")
    X, source = fashion_or_noise(args.samples)
    cpus = os.cpu_count() or 1
    warm_up(X[:100], "cpu")
    out: dict = {
        "benchmark": "threads",
        "data": source,
        "cpus": cpus,
        "busy_processes": args.busy,
        "torch": torch.__version__,
    }
    out["idle"] = {"auto": rate(X, args.epochs, "auto"), "torch_default": rate(X, args.epochs, cpus)}
    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(args.busy)]
    for worker in workers:
        worker.start()
    time.sleep(2.0)  # the kernel's run queue now counts them
    try:
        out["busy"] = {"auto": rate(X, args.epochs, "auto"), "torch_default": rate(X, args.epochs, cpus)}
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    for name in ("auto", "torch_default"):
        out[f"{name}_busy_vs_idle"] = round(
            out["busy"][name]["samples_per_s"] / out["idle"][name]["samples_per_s"], 3
        )
    out["target_auto_ge_0.25x_idle"] = out["auto_busy_vs_idle"] >= 0.25
    emit(out, output_path(args, "threads"))


if __name__ == "__main__":
    main()
