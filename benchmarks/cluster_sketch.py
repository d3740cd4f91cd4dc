"""What a 100-node cluster run of a million photos would cost: the two measurements the
sketch in docs/guides/large-files.md rests on, and its arithmetic.

1. CPU seconds one 12-megapixel JPEG costs (`imgconv blur -r 5 -s 3`, decode, filter,
   encode, one engine thread), from the batch's own worker, in this process.
2. What the cluster adds per file: a batch of tiny files on a 2-worker LocalCluster on
   127.0.0.1, as many in flight as it has threads (as `--cluster` sends them), against
   the same batch run here, one file at a time.
3. How many tasks a second the scheduler and client hand out at most: empty tasks, all
   submitted at once (on this machine the workers share its CPUs, so a lower bound).

    .venv/bin/python benchmarks/cluster_sketch.py [--files 400] [--nodes 100 --cores 32]
"""

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from imgconv import batch, cluster, filters, kernels
from imgconv.engine import EngineOptions

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def jpeg_cost(folder, filt, repeats=3):
    """Best CPU seconds of one 4000x3000 JPEG (q92, as cameras write them)."""
    photo = Image.open(SAMPLES / "chelsea.png").convert("RGB").resize((4000, 3000), Image.BICUBIC)
    photo.save(folder / "photo.jpg", quality=92)
    size = (folder / "photo.jpg").stat().st_size
    task = batch.plan_batch([str(folder / "photo.jpg")], str(folder / "out"))[0]
    os.makedirs(folder / "out", exist_ok=True)
    best = float("inf")
    for _ in range(repeats + 1):  # the first warms the imports up
        start = cpu_seconds()
        assert batch.run_task(task, filt).status == "ok"
        best = min(best, cpu_seconds() - start)
    return best, size, (folder / "out" / "photo.jpg").stat().st_size


def per_file_overhead(folder, filt, count):
    """Seconds a tiny file takes through a 2-thread cluster and here, one at a time each."""
    import distributed

    (folder / "tiny").mkdir()
    for i in range(count):
        Image.fromarray(np.full((8, 8), i % 256, np.uint8)).save(folder / "tiny" / f"t{i:04d}.png")
    local = batch.plan_batch([str(folder / "tiny")], str(folder / "here"))
    start = time.perf_counter()
    batch.run_batch(local, filt, executor=batch.InlineExecutor(), jobs=1)
    here = (time.perf_counter() - start) / count
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=50) as local_cluster:
        client = cluster.connect(local_cluster.scheduler_address)
        try:
            executor = cluster.ClusterExecutor(client)
            tasks = batch.plan_batch([str(folder / "tiny")], str(folder / "there"))
            start = time.perf_counter()
            results = batch.run_batch(tasks, filt, jobs=executor.threads, in_flight=executor.threads,
                                      executor=executor)
            there = (time.perf_counter() - start) / count
            start = time.perf_counter()
            client.gather(client.map(int, range(count * 10), pure=False))
            rate = count * 10 / (time.perf_counter() - start)
        finally:
            client.close()
    assert all(r.status == "ok" for r in results)
    return here, there, rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400, help="tiny files for the per-file overhead")
    parser.add_argument("--photos", type=float, default=1e6)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--cores", type=int, default=32, help="cores a node")
    args = parser.parse_args()
    filt = filters.preset_filter(kernels.separable_gaussian(3, radius=5), engine=EngineOptions(threads=1))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cost, size_in, size_out = jpeg_cost(scratch, filt)
        here, there, rate = per_file_overhead(scratch, filt, args.files)
    threads = args.nodes * args.cores
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"one 12 MP JPEG ({size_in / 1e6:.1f} MB in, {size_out / 1e6:.1f} MB out): {cost:.2f} CPU s")
    print(f"a tiny file, one at a time here: {here * 1e3:.1f} ms; on a 2-thread LocalCluster: {there * 1e3:.1f} ms "
          f"(2 in flight)")
    print(f"empty tasks through the scheduler: {rate:,.0f} a second")
    compute = args.photos * cost / threads
    data = args.photos * (size_in + size_out)
    print(f"{args.photos:,.0f} photos on {args.nodes} nodes x {args.cores} cores = {threads} threads:")
    print(f"  filtering: {args.photos * cost / 3600:,.0f} CPU hours, {compute / 60:.0f} min of wall time")
    print(f"  files: {data / 1e12:.1f} TB read and written; at 1 GB/s of shared storage {data / 1e9 / 60:.0f} min, "
          f"at 10 GB/s {data / 1e10 / 60:.0f} min")
    print(f"  the client must send {args.photos / compute:,.0f} files a second to keep every thread busy; "
          f"at {rate:,.0f} a second the run takes {args.photos / rate / 60:.0f} min")


if __name__ == "__main__":
    main()
