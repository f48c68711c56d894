"""The bad-input corpus of tests/test_hardening.py, run against a studio source tree the way the original audit
ran: each case in a child process of its own, under a memory ceiling and a time limit, and counted as a one-sentence
refusal (exit 2, one ``studio: error:`` line), a traceback, a kill (out of memory, out of time, a signal) or
another ending, and whether it left a file behind. Point it at an older revision to count "before":

    git worktree add /tmp/before <commit>
    python benchmarks/hardening_audit.py --source /tmp/before [--memory-gb 10] [--seconds 60]

Without ``--source`` it runs this checkout. The corpus is built by the tests' own builder, in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_corpus(folder: Path) -> tuple[Path, list[tuple[str, list[str], str]]]:
    """The corpus's files in ``folder`` (the tests' own builder) and its cases (name, arguments, expected words)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_hardening

    class Factory:
        @staticmethod
        def mktemp(name: str) -> Path:
            d = folder / name
            d.mkdir()
            return d

    d = test_hardening.corpus.__wrapped__(Factory())
    return d, test_hardening._cases(d)


def run_case(argv: list[str], source: Path, memory: int, seconds: float) -> tuple[str, str]:
    """How ``studio argv`` from ``source`` ended under ``memory`` bytes and ``seconds``, and its standard error."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1"}
    try:
        p = subprocess.run([sys.executable, "-m", "studio", *argv], capture_output=True, text=True, env=env,
                           preexec_fn=limit, timeout=seconds, cwd=source)
    except subprocess.TimeoutExpired:
        return "killed (time)", ""
    err = p.stderr
    if p.returncode < 0:
        return f"killed (signal {-p.returncode})", err
    if "MemoryError" in err or "DefaultCPUAllocator" in err:
        return "killed (memory)", err
    if "Traceback" in err:
        return "traceback", err
    errors = [line for line in err.splitlines() if line.startswith("studio: error:")]
    if p.returncode == 2 and len(errors) == 1:
        return "one sentence", err
    return f"other (exit {p.returncode})", err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=ROOT, help="a studio source tree (default: this checkout)")
    # address space, not resident memory: importing torch alone maps more than 3 GB of it
    ap.add_argument("--memory-gb", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d, cases = build_corpus(Path(tmp))
        counts: Counter[str] = Counter()
        partial = 0
        for name, argv, _ in cases:
            before = set(d.rglob("*"))
            kind, err = run_case(argv, args.source.resolve(), int(args.memory_gb * 1024**3), args.seconds)
            left = sorted(str(p.relative_to(d)) for p in set(d.rglob("*")) - before)
            partial += bool(left)
            counts[kind] += 1
            last = err.strip().splitlines()[-1][:110] if err.strip() else ""
            print(f"{name:28s} {kind:18s} {'left ' + ', '.join(left) if left else ''} {last}", flush=True)
        print(f"{len(cases)} runs: " + ", ".join(f"{k} {v}" for k, v in counts.most_common())
              + f"; runs that left a file: {partial}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
