"""The PostgreSQL driver's figures, old code against new, interleaved in one run.

Run: ``python -m benchmarks.bench_postgres [--compare REV] [--rounds 3] [--jobs 3000]``

On a shared machine two runs minutes apart differ by more than most optimisations, so a
before/after ratio is only worth something when both sides ran side by side. With
``--compare REV`` the driver package ``drivers/taskcore_postgres`` as it was at git revision
``REV`` is extracted to a temporary directory, and each round runs one child process on it and
one on the working tree, alternately (which goes first alternates too). Each child opens a
throwaway database (``conformance_tests.servers``) and measures the figures of
``benchmarks/bench.py`` for this driver alone, with the same functions. The table shows the
median over rounds of each side and the ratio new/old. Without ``--compare`` only the working
tree is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from io import BytesIO
from pathlib import Path

from benchmarks.bench import _drain, _open, bench_enqueue, bench_hot_path, bench_latency
from conformance_tests.drivers import DRIVERS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "drivers/taskcore_postgres"

FIGURES = (
    "enqueue/s",
    "reserve+complete/s",
    "worker drain/s",
    "pool drain/s (4)",
    "latency p50 ms",
    "latency p95 ms",
)


async def measure(jobs: int, samples: int) -> dict[str, float]:
    """Every figure of this driver, in bench.py's order, on one fresh database."""
    spec = next(d for d in DRIVERS if d.id == "postgres")
    url = spec.url()
    namespace = f"taskcore-bench-{uuid.uuid4().hex[:8]}"
    backend = await _open(spec, url, namespace)
    figures: dict[str, float] = {}
    try:
        figures["enqueue/s"] = await bench_enqueue(backend, jobs)
        await backend.flush()
        figures["reserve+complete/s"] = await bench_hot_path(backend, jobs)
        figures["worker drain/s"] = await _drain([backend], jobs, "drain1")
        extra = [await _open(spec, url, namespace) for _ in range(3)]
        try:
            figures["pool drain/s (4)"] = await _drain([backend, *extra], jobs, "drain4")
        finally:
            for b in extra:
                await b.aclose()
        figures["latency p50 ms"], figures["latency p95 ms"] = await bench_latency(backend, samples)
    finally:
        await backend.flush()
        await backend.aclose()
    return figures


def _extract(rev: str, into: Path) -> Path:
    """``drivers/taskcore_postgres`` at ``rev``, unpacked under ``into``; the directory to
    put first on ``PYTHONPATH``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, PACKAGE],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "drivers"


def _child(driver_path: Path | None, jobs: int, samples: int) -> dict[str, float]:
    env = dict(os.environ)
    if driver_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(driver_path), str(ROOT), env.get("PYTHONPATH", "")]
        )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_postgres",
            "--child",
            "--jobs",
            str(jobs),
            "--samples",
            str(samples),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def render(sides: dict[str, list[dict[str, float]]]) -> str:
    """A markdown table of the median of each figure per side, plus new/old when both ran."""
    names = list(sides)
    head = "| figure | " + " | ".join(names) + (" | new/old |" if len(names) == 2 else " |")
    lines = [head, "|" + "---|" * (len(names) + 1 + (len(names) == 2))]
    for figure in FIGURES:
        medians = [statistics.median(run[figure] for run in sides[n]) for n in names]
        cells = [f"{m:,.1f}" for m in medians]
        if len(names) == 2:
            cells.append(f"{medians[1] / medians[0]:.2f}x")
        lines.append(f"| {figure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--compare", metavar="REV", help="git revision of the old driver")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(measure(args.jobs, args.samples))))
        return 0
    sides: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="taskcore-bench-") as tmp:
        plan: list[tuple[str, Path | None]] = [("new", None)]
        if args.compare:
            plan.insert(0, (f"old ({args.compare})", _extract(args.compare, Path(tmp))))
        for name, _ in plan:
            sides[name] = []
        started = time.perf_counter()
        for round_no in range(args.rounds):
            order = plan if round_no % 2 == 0 else plan[::-1]
            for name, path in order:
                sides[name].append(_child(path, args.jobs, args.samples))
                print(f"round {round_no + 1} {name}: {sides[name][-1]}", file=sys.stderr)
    print(
        f"jobs={args.jobs} latency samples={args.samples} rounds={args.rounds} "
        f"({time.perf_counter() - started:.0f} s); medians per side"
    )
    print(render(sides))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
