"""Times a Jupyter kernel's round trip for one line, for BenchmarkSideBySide.

Usage: jupyter_bench.py CSV CODE. Starts an ipykernel with jupyter_client,
loads CSV into df and prints {"ready": true}. Then, for each line "N GAP_MS"
on stdin, executes CODE N times, each after GAP_MS milliseconds of rest (0:
back to back), timing each from the request to the kernel's idle status, and
prints {"samples_ms": [...]}. Shuts the kernel down at the end of stdin. The
benchmark alternates these rounds with the executor's, so that both see the
same machine.
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

path, code = sys.argv[1], sys.argv[2]
km, kc = start_new_kernel(kernel_name="python3")
try:
    kc.execute_interactive("import pandas as pd, numpy as np\ndf = pd.read_csv(%r)" % path, timeout=120)

    def run(times, rest):
        samples = []
        for _ in range(times):
            if rest:
                time.sleep(rest)
            start = time.perf_counter()
            reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
            samples.append((time.perf_counter() - start) * 1000)
            if reply["content"]["status"] != "ok":
                raise SystemExit("execution failed: %r" % reply["content"])
        return samples

    run(5, 0)  # warm, as the executor's kernel is
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        n, gap_ms = line.split()
        print(json.dumps({"samples_ms": run(int(n), float(gap_ms) / 1000)}), flush=True)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
