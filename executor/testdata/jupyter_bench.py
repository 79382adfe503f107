"""Times a Jupyter kernel's round trip for one line, for BenchmarkSideBySide.

Usage: jupyter_bench.py CSV N CODE. Starts an ipykernel with jupyter_client,
loads CSV into df, then executes CODE N times, each time from the request to
the kernel's idle status. Prints {"samples_ms": [...]} on stdout.
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

path, n, code = sys.argv[1], int(sys.argv[2]), sys.argv[3]
km, kc = start_new_kernel(kernel_name="python3")
try:
    kc.execute_interactive("import pandas as pd, numpy as np\ndf = pd.read_csv(%r)" % path, timeout=120)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        samples.append((time.perf_counter() - start) * 1000)
        if reply["content"]["status"] != "ok":
            raise SystemExit("execution failed: %r" % reply["content"])
    print(json.dumps({"samples_ms": samples}))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
