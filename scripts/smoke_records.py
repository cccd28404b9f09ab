"""Every experiment's smoke preset, run and reduced to its records: the before/after check of a refactor.

    python scripts/smoke_records.py record runs/i15/base            # this checkout
    python scripts/smoke_records.py record runs/i15/base --src /tmp/base   # another checkout's code
    python scripts/smoke_records.py compare runs/i15/base runs/i15/after

``record`` runs ``pnn-jax run experiment=<name> preset=smoke`` for each experiment (the CIFAR/SVHN
one on generated files, so it has data), in a subprocess whose ``pnn_jax`` is imported from
``--src`` (default: this checkout), and writes ``<out>/<name>.json``: the run's records
(``runs.jsonl``, else the metric lines of ``metrics.jsonl``) without the keys that measure time.
``compare`` prints, per experiment, whether the records agree (floats within ``--rtol``) and the
first differing paths; its exit code is the number of experiments that differ.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Keys whose values are clocks, rates or places, not results.
VOLATILE = {"time", "wall", "seconds", "sps", "eta", "date", "host", "machine", "run_dir", "provenance"}
VOLATILE_ENDINGS = ("_time", "_s", "_seconds", "_per_s", "_sps", "_dir")


def _experiments(src: Path) -> list[str]:
    return sorted(p.name for p in (src / "experiments").iterdir() if (p / "preset" / "smoke.yaml").is_file())


def _volatile(key: str) -> bool:
    k = key.lower()
    return k in VOLATILE or k.endswith(VOLATILE_ENDINGS) or k.startswith("wall")


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items()) if not _volatile(k)}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _records(run_dir: Path) -> list:
    runs = run_dir / "runs.jsonl"
    if runs.is_file():
        lines = runs.read_text().splitlines()
    else:  # a runner without runs.jsonl: its metric lines
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [_clean(json.loads(line)) for line in lines if line.strip()]


def record(out: Path, src: Path, only: list[str]) -> int:
    from fake_data import write_cifar, write_svhn  # tests/ is on sys.path from here  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        extra = {
            "pathnet_cifar_svhn": [
                f"data.cifar_root={write_cifar(tmp / 'cifar', per_class=4)}",
                f"data.svhn_root={write_svhn(tmp / 'svhn', per_class=20)}",
            ]
        }
        env = {**os.environ, "PYTHONPATH": str(src)}
        code = "import sys; from pnn_jax.cli import main; sys.exit(main(sys.argv[1:]))"
        for name in only or _experiments(src):
            run_root = tmp / "runs" / name
            args = ["run", f"experiment={name}", "preset=smoke", f"out_dir={run_root}", *extra.get(name, [])]
            proc = subprocess.run(
                [sys.executable, "-c", code, *args], cwd=tmp, env=env, capture_output=True, text=True
            )
            found = sorted(run_root.rglob("summary.json"))
            if proc.returncode != 0 or not found:
                print(f"{name}: FAILED (exit {proc.returncode})\n{proc.stderr[-2000:]}")
                failed += 1
                continue
            records = _records(found[-1].parent)
            (out / f"{name}.json").write_text(json.dumps(records, indent=1, sort_keys=True) + "\n")
            print(f"{name}: {len(records)} record(s)")
    return failed


def _diff(a, b, path: str, rtol: float, out: list[str]) -> None:
    if len(out) >= 5:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'after' if k not in a else 'before'}")
            else:
                _diff(a[k], b[k], f"{path}.{k}", rtol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{path}[{i}]", rtol, out)
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if not (math.isclose(a, b, rel_tol=rtol, abs_tol=rtol) or (a != a and b != b)):
            out.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} vs {b!r}")


def compare(before: Path, after: Path, rtol: float) -> int:
    differ = 0
    for f in sorted(before.glob("*.json")):
        other = after / f.name
        if not other.is_file():
            print(f"{f.stem}: missing after")
            differ += 1
            continue
        out: list[str] = []
        _diff(json.loads(f.read_text()), json.loads(other.read_text()), f.stem, rtol, out)
        print(f"{f.stem}: {'same' if not out else 'DIFFERENT'}")
        for line in out:
            print(f"  {line}")
        differ += bool(out)
    return differ


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--src", type=Path, default=ROOT, help="checkout whose pnn_jax and experiments/ run")
    rec.add_argument("--only", nargs="*", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    cmp_.add_argument("--rtol", type=float, default=1e-5)
    ns = parser.parse_args()
    if ns.command == "record":
        return record(ns.out, ns.src.resolve(), ns.only)
    return compare(ns.before, ns.after, ns.rtol)


if __name__ == "__main__":
    sys.exit(main())
