"""The long run of the fuzzing harness in tests/test_fuzz.py: the same seeds, mutators
and checks, for 20,000 cases or more, each in a forked child with a wall-clock limit
and an address-space limit, then totals.

    .venv/bin/python benchmarks/fuzz.py                    # cases 0 to 19,999
    .venv/bin/python benchmarks/fuzz.py --cases 50000 --jobs 4 --timeout 30 --memory-mb 1024
    .venv/bin/python benchmarks/fuzz.py --show 1234        # write case 1234's files, print and run its command

Case N is the case ``tests/test_fuzz.py`` would run as case N (the CI run is cases 0 to
999), so ``--show N`` reproduces a failure of either. The parent builds the seeds and
warms up every decoder and encoder once, on the unmutated seeds, then forks one child
per case, at most ``--jobs`` at a time. A child sets RLIMIT_AS to the parent's address
space plus ``--memory-mb``, runs the case in-process (``test_fuzz.run_case``, with its
soft time limit) and writes its findings to a file; the parent kills a child still
running ``--grace`` seconds after ``--timeout`` (a hang), counts a child killed by a
signal as a crash, and takes each child's peak resident memory from ``wait4``.

Prints: cases, passes, failing cases, failures by kind (a case counts once under each
kind it shows), failures grouped by cause (kind plus the message with numbers
blanked), exit statuses, the slowest case and the largest peak RSS. ``--json FILE``
also writes every failure, with its command, mutations and input hash.
"""

import argparse
import collections
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz as fuzz  # noqa: E402 - the harness itself: seeds, mutators, checks


def _vm_size():
    """This process's address space in bytes (VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def warm_up(seeds, scratch):
    """Run every unmutated seed once, so that each plugin and codec is imported before
    the children are forked (they then start in milliseconds)."""
    for number, seed in enumerate(seeds):
        if seed.kind == "kernel":
            target = f"k{seed.suffix}" if seed.suffix else "kernel"
            case = fuzz.Case(-1, seed.name, [], {"in.png": fuzz.clean_image(), target: seed.data}, target,
                             ["convolve", "-k", target, "in.png", "out.png"], "out.png", "PNG")
        else:
            target = "in" + seed.suffix
            output = "out" + seed.suffix
            case = fuzz.Case(-1, seed.name, [], {target: seed.data}, target, ["blur", "-s", "1", target, output],
                             output, fuzz._out_format(output))
        fuzz.run_case(case, scratch / f"warm-{number}")
    for index in range(20):  # mutated ones too, with the output formats the cases pick
        fuzz.run_case(fuzz.make_case(index, seeds), scratch / f"warm-case-{index}")
    for path in scratch.iterdir():
        shutil.rmtree(path)


def child(index, seeds, folder, result_path, limit, timeout):
    """Run case ``index`` in this forked child; never returns."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        case = fuzz.make_case(index, seeds)
        outcome = fuzz.run_case(case, folder, timeout=timeout)
        found = fuzz.check(case, outcome)
        result = {"index": index, "status": outcome.status, "seconds": outcome.seconds, "found": found,
                  "command": case.command, "seed": case.seed, "recipe": case.recipe, "sha256": case.digest}
    except BaseException as exc:  # the harness itself failed in this child
        result = {"index": index, "status": None, "seconds": 0.0,
                  "found": [("harness error", f"{type(exc).__name__}: {exc}")]}
    try:
        temporary = f"{result_path}.part"
        with open(temporary, "w") as file:
            json.dump(result, file)
        os.replace(temporary, result_path)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(f"{folder}-tmp", ignore_errors=True)
    finally:
        os._exit(0)


def signature(kind, detail):
    """A failure's cause, for grouping: the kind and its first message with numbers and
    byte strings blanked."""
    first = detail.split("; ")[0]
    first = re.sub(r"b'[^']*'", "b'…'", first)
    first = re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?(e[-+]?\d+)?", "N", first)
    return f"{kind}: {first[:160]}"


def run(args):
    seeds = fuzz.build_seeds()
    totals = collections.Counter()
    by_kind = collections.Counter()
    main_kinds = collections.Counter()
    statuses = collections.Counter()
    causes = collections.defaultdict(list)
    failures = []
    slowest = (0.0, None)
    peak = (0, None)
    with tempfile.TemporaryDirectory(prefix="imgconv-fuzz-") as scratch:
        scratch = Path(scratch)
        warming = time.perf_counter()
        warm_up(seeds, scratch)
        started = time.perf_counter()
        baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        limit = _vm_size() + args.memory_mb * 1024 * 1024
        print(f"imgconv fuzz: cases {args.start} to {args.start + args.cases - 1}, {len(seeds)} seeds, "
              f"{args.jobs} at a time, {args.timeout:g} s and {args.memory_mb} MB of address space above the "
              f"parent's {_vm_size() >> 20} MB each; --max-pixels "
              f"{'passed' if fuzz.has_max_pixels() else 'not available'}; warm-up {started - warming:.1f} s",
              flush=True)
        pending = iter(range(args.start, args.start + args.cases))
        running = {}  # pid -> [index, start, pidfd, killed: False, True (a hang) or None (stopped)]
        done = 0

        def launch(index):
            folder, result = scratch / f"case-{index}", scratch / f"result-{index}.json"
            pid = os.fork()
            if pid == 0:
                child(index, seeds, folder, result, limit, args.timeout)
            pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
            running[pid] = [index, time.perf_counter(), pidfd, False]

        def reap(pid, status, usage):
            nonlocal done, slowest, peak
            index, start, pidfd, killed = running.pop(pid)
            if pidfd is not None:
                os.close(pidfd)
            elapsed = time.perf_counter() - start
            result_path = scratch / f"result-{index}.json"
            if killed is None:  # stopped by SIGINT or SIGTERM: not counted
                shutil.rmtree(scratch / f"case-{index}", ignore_errors=True)
                shutil.rmtree(scratch / f"case-{index}-tmp", ignore_errors=True)
                result_path.unlink(missing_ok=True)
                return
            if killed:
                result = {"index": index, "status": None, "seconds": elapsed,
                          "found": [("hang", f"killed after {elapsed:.1f} s")]}
            elif os.WIFSIGNALED(status):
                name = signal.Signals(os.WTERMSIG(status)).name
                result = {"index": index, "status": None, "seconds": elapsed,
                          "found": [("crash", f"the process died of {name}")]}
            elif result_path.exists():
                result = json.loads(result_path.read_text())
            else:
                result = {"index": index, "status": None, "seconds": elapsed,
                          "found": [("crash", f"the child exited with status {os.WEXITSTATUS(status)} and no result")]}
            result_path.unlink(missing_ok=True)
            shutil.rmtree(scratch / f"case-{index}", ignore_errors=True)
            shutil.rmtree(scratch / f"case-{index}-tmp", ignore_errors=True)
            if "command" not in result:  # the child could not say: rebuild the case here
                try:
                    case = fuzz.make_case(index, seeds)
                    result.update(command=case.command, seed=case.seed, recipe=case.recipe, sha256=case.digest)
                except Exception as exc:  # a harness error, already counted as one
                    result.update(command=f"(cannot build the case: {exc!r})", seed=None, recipe=[], sha256=None)
            result["peak_rss_mb"] = usage.ru_maxrss / 1024
            done += 1
            statuses[result["status"]] += 1
            if result["seconds"] > slowest[0]:
                slowest = (result["seconds"], result)
            if usage.ru_maxrss > peak[0]:
                peak = (usage.ru_maxrss, result)
            found = [tuple(f) for f in result["found"]]
            if not found:
                totals["passed"] += 1
            else:
                totals["failed"] += 1
                main_kinds[fuzz.main_kind(found)] += 1
                for kind in sorted({k for k, _ in found}, key=fuzz.KINDS.index):
                    by_kind[kind] += 1
                for kind, detail in found:
                    causes[signature(kind, detail)].append(index)
                failures.append(result)
            if done % args.progress == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  {done} cases, {totals['failed']} failing, {rate:.0f} cases/s", file=sys.stderr, flush=True)

        exhausted = interrupted = False

        def stop(signum, frame):
            nonlocal exhausted, interrupted
            exhausted = interrupted = True  # launch no more; the running ones are killed below

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running or not exhausted:
            while not exhausted and len(running) < args.jobs:
                index = next(pending, None)
                if index is None:
                    exhausted = True
                else:
                    launch(index)
            if not running:
                break
            now = time.perf_counter()
            hard = args.timeout + args.grace
            for pid, (_, start, _, killed) in list(running.items()):
                if killed is False and (interrupted or now - start > hard):
                    os.kill(pid, signal.SIGKILL)
                    running[pid][3] = None if interrupted else True  # None: stopped, not a hang
            deadline = min(start + hard for _, start, _, _ in running.values())
            wait = max(0.0, min(deadline - now, 1.0))
            pidfds = {entry[2]: pid for pid, entry in running.items() if entry[2] is not None}
            if pidfds:
                ready, _, _ = select.select(list(pidfds), [], [], wait)
                for fd in ready:
                    pid = pidfds[fd]
                    reap(pid, *os.wait4(pid, 0)[1:])
            else:  # no pidfd_open: poll
                for pid in list(running):
                    reaped, status, usage = os.wait4(pid, os.WNOHANG)
                    if reaped:
                        reap(pid, status, usage)
                time.sleep(0.002)

    wall = time.perf_counter() - started
    lines = [
        f"cases {done}{' (interrupted)' if interrupted else ''}: {totals['passed']} passed, "
        f"{totals['failed']} failed, in {wall:.0f} s ({done / wall:.0f} cases/s, {args.jobs} at a time)",
        "exit statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=lambda x: str(x[0]))),
        "failures by kind (a case counts under each kind it shows): "
        + (", ".join(f"{k} {by_kind[k]}" for k in fuzz.KINDS if by_kind[k]) or "none"),
        "failing cases by main kind: "
        + (", ".join(f"{k} {main_kinds[k]}" for k in fuzz.KINDS if main_kinds[k]) or "none"),
    ]
    if causes:
        lines.append("causes:")
        for cause, indices in sorted(causes.items(), key=lambda item: (-len(item[1]), item[0])):
            lines.append(f"  {len(indices):5}  {cause}  (e.g. case {indices[0]})")
    if slowest[1] is not None:
        r = slowest[1]
        lines.append(f"slowest case: {r['index']}, {slowest[0]:.2f} s: {r['command']}")
    if peak[1] is not None:
        r = peak[1]
        lines.append(f"largest peak RSS: case {r['index']}, {peak[0] / 1024:.0f} MB (the parent, forked from, "
                     f"{baseline_rss / 1024:.0f} MB): {r['command']}")
    print("\n".join(lines), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "seed": fuzz.SEED, "start": args.start, "cases": done, "passed": totals["passed"],
            "failed": totals["failed"], "seconds": wall, "jobs": args.jobs, "timeout": args.timeout,
            "memory_mb": args.memory_mb, "max_pixels": fuzz.has_max_pixels(), "by_kind": by_kind,
            "main_kinds": main_kinds, "causes": dict(causes),
            "statuses": {str(s): n for s, n in statuses.items()},
            "slowest": slowest[1], "peak_rss_mb": peak[0] / 1024, "peak_case": peak[1], "failures": failures,
        }, indent=1, default=str))
    return 1 if totals["failed"] else 0


def show(index, folder):
    """Write case ``index``'s files into ``folder`` and run its command as a user would."""
    case = fuzz.make_case(index)
    folder = Path(folder or tempfile.mkdtemp(prefix=f"imgconv-fuzz-case-{index}-"))
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    if case.previous is not None:
        (folder / case.output).write_bytes(case.previous)
    print(case.describe())
    print(f"files in {folder}: {', '.join(case.files)}")
    print(f"$ cd {folder} && {case.command}")
    imgconv = Path(sys.executable).with_name("imgconv")
    command = [str(imgconv) if imgconv.exists() else sys.executable] + ([] if imgconv.exists() else ["-m", "imgconv"])
    result = subprocess.run(command + case.args, cwd=folder, input=case.stdin, capture_output=True, timeout=600)
    print(f"exit status {result.returncode}, {len(result.stdout)} bytes on stdout, stderr:")
    sys.stdout.write(result.stderr.decode("utf-8", "replace"))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000, help="how many cases (default 20000)")
    parser.add_argument("--start", type=int, default=0, help="the first case's number (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children at once (default: CPUs)")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds a case may run before it is a hang (default 20)")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds past --timeout before the child is killed (default 5)")
    parser.add_argument("--memory-mb", type=int, default=1024,
                        help="address space a case may add to the parent's, in MB (default 1024)")
    parser.add_argument("--progress", type=int, default=1000, help="print progress every N cases")
    parser.add_argument("--json", metavar="FILE", help="also write the totals and every failure as JSON")
    parser.add_argument("--show", type=int, metavar="N", help="write case N's files and run its command, then stop")
    parser.add_argument("--folder", help="with --show: where to write the files (default: a new temporary folder)")
    args = parser.parse_args()
    if args.show is not None:
        return show(args.show, args.folder)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
