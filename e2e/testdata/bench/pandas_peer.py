"""The pandas peer of BenchmarkBigDataset: what a user would run instead,
in one warm Python process.

Usage: pandas_peer.py EXECUTOR_DIR CSV ROUNDS
Prints one JSON object: the seconds of read_csv, of the same profile the
server makes (kernel.datasets.column_profile of every column), and of
ROUNDS groupby means (df.groupby('region')['price'].mean()), each timed
alone.
"""

import json
import sys
import time

sys.path.insert(0, sys.argv[1])

from kernel import datasets, stack  # noqa: E402

stack.import_plotting()
pd = stack.M["pd"]
path, rounds = sys.argv[2], int(sys.argv[3])

t = time.perf_counter()
df = pd.read_csv(path)
read_s = time.perf_counter() - t

t = time.perf_counter()
profile = [datasets.column_profile(c, df[c]) for c in df.columns]
profile_s = time.perf_counter() - t

groupby = []
for _ in range(rounds):
    t = time.perf_counter()
    df.groupby("region")["price"].mean()
    groupby.append(time.perf_counter() - t)

print(json.dumps({"read_s": read_s, "profile_s": profile_s, "groupby_s": groupby, "rows": len(df)}))
