"""This tree against an older revision: CPU per command and per rebuilt event, side by side.

    python -m benchmarks.versus --base REV [--rounds 5] [--customers 100] [--loaded 150]

Unpacks ``REV`` (``git archive``) and this tree's ``HEAD`` into folders of their own, builds a loader
ledger in each with its own code (``--loaded`` customers), then alternates rounds: in each, a fresh
process per tree (``PYTHONPATH`` set to that tree, checked) applies the demo workload of
``--customers`` customers through ``ledger apply``'s code path on SQLite, then rebuilds every read
model of its loader ledger. This tree also runs once more per round with the audit log off
(``LEDGER_AUDIT=n``), when ``REV`` has no audit log to compare with. It reports CPU seconds
(``time.process_time``), which a shared machine's load disturbs far less than wall time, and the
median of the per-round ratios this ÷ base (below 1: faster). A code change that should not slow
things shows ratios within noise of 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_ONE = """
import io, json, sys, tempfile, time
from pathlib import Path
import aggregates, commands, ledger, projections, replay
tree = Path(sys.argv[1]).resolve()
for m in (aggregates, commands, ledger, projections, replay):
    assert Path(m.__file__).resolve().is_relative_to(tree), m.__file__
from benchmarks.commands import GROUP, workload_lines
from ledger.bootstrap import build_app
from ledger.cli import apply_lines
from ledger.readside import open_read_models, rebuild_views
lines = workload_lines(int(sys.argv[2]))
env = {"LEDGER_SECRET_KEY": "bench"}
if sys.argv[4] != "-":
    env["LEDGER_AUDIT"] = sys.argv[4]
with tempfile.TemporaryDirectory() as folder:
    app = build_app(str(Path(folder) / "c.db"), env)
    started = time.process_time()
    apply_lines(app, lines, io.StringIO(), GROUP)
    command_cpu = time.process_time() - started
    app.close()
app = build_app(sys.argv[3])
events = app.recorder.max_notification_id() or 0
models = open_read_models(app)
started = time.process_time()
rebuild_views(app, models)
rebuild_cpu = time.process_time() - started
models.close()
app.close()
print(json.dumps({"commands": len(lines), "command_cpu_ms": command_cpu / len(lines) * 1e3,
                  "events": events, "rebuild_cpu_us": rebuild_cpu / events * 1e6}))
"""


def unpack(rev: str, folder: Path) -> Path:
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_in(tree: Path, *argv: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", _ONE, str(tree), *argv], cwd=tree, env=env,
                         check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the older revision (any git revision name)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--customers", type=int, default=100, help="demo workload customers (commands)")
    parser.add_argument("--loaded", type=int, default=150, help="loader ledger customers (rebuild)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="versus-") as scratch:
        root = Path(scratch)
        trees = {"base": unpack(args.base, root / "base"), "this": unpack("HEAD", root / "this")}
        ledgers = {}
        for side, tree in trees.items():
            ledgers[side] = str(root / f"{side}.db")
            print(f"versus: building the {args.loaded}-customer ledger with the {side} tree", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "benchmarks.loader", "--db", ledgers[side], "--customers",
                            str(args.loaded), "--expiry-days", "60"], cwd=tree, check=True, capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(tree)})
        runs = {"base": ("base", "-"), "this": ("this", "-"), "this, audit log off": ("this", "n")}
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
        for n in range(args.rounds):
            order = list(runs) if n % 2 == 0 else list(runs)[::-1]
            for name in order:
                side, audit = runs[name]
                rows[name].append(run_in(trees[side], str(args.customers), ledgers[side], audit))
            print(f"versus: round {n + 1}/{args.rounds} done (load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    figures: dict[str, Any] = {"base": args.base, "rounds": args.rounds, "commands": rows["base"][0]["commands"],
                               "events": rows["base"][0]["events"], "load_at_end": round(os.getloadavg()[0], 1)}
    for key, label in (("command_cpu_ms", "CPU ms per command"), ("rebuild_cpu_us", "CPU us per rebuilt event")):
        print(f"{label}:")
        for name in runs:
            median = statistics.median(r[key] for r in rows[name])
            line = f"  {name:<22} {median:9.3f}"
            if name != "base":
                ratios = [a[key] / b[key] for a, b in zip(rows[name], rows["base"], strict=True)]
                ratio = statistics.median(ratios)
                figures[f"{key}_ratio_{name.replace(', ', '_').replace(' ', '_')}"] = round(ratio, 3)
                line += f"   this / base: median {ratio:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})"
            figures[f"{key}_{name.replace(', ', '_').replace(' ', '_')}"] = round(median, 4)
            print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
