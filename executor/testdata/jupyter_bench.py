"""Times a Jupyter kernel's round trip for one line, for BenchmarkSideBySide.

Usage: jupyter_bench.py CSV N CODE [PACED GAP_MS]. Starts an ipykernel with
jupyter_client, loads CSV into df, then executes CODE N times back to back,
each time from the request to the kernel's idle status, and then PACED times
more with GAP_MS milliseconds of rest before each. Prints {"samples_ms":
[...], "paced_ms": [...]} on stdout.
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

path, n, code = sys.argv[1], int(sys.argv[2]), sys.argv[3]
paced, gap = (int(sys.argv[4]), float(sys.argv[5]) / 1000) if len(sys.argv) > 5 else (0, 0.0)
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

    back_to_back = run(n, 0)
    print(json.dumps({"samples_ms": back_to_back, "paced_ms": run(paced, gap)}))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
