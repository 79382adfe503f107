package main

import (
	"os"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	f, err := os.Open("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, failed, err := parse(f)
	if err != nil || failed {
		t.Fatalf("parse: %v, failed %v", err, failed)
	}
	var out strings.Builder
	if missing := writeTable(&out, r); missing != 6 {
		t.Errorf("%d missing, want 6 (BenchmarkBigDataset's)", missing)
	}
	for _, want := range []string{
		// The median of three runs; the paired ratio is the reported one.
		"| back-to-back trivial executions against Jupyter (paired ratio) | 8.0 ms | 6.0 ms | 0.95 | ≤ 1 | yes | 3 |",
		"| trivial runs end to end, memory broker (runs/s) | 160/s |  |  | ≥ 150 | yes | 1 |",
		"| trivial runs end to end, Redis, two worker processes against one | 30/s | 60/s | 0.50 | ≥ 1 | **no** | 1 |",
		// The target is on the Redis figure itself; the ratio is shown.
		"| chat-turn system overhead, Redis + PostgreSQL (ms, p50 of 20) | 50.0 ms | embedded 20.0 ms | 2.50 | ≤ 40 | **no** | 1 |",
		"| upload and profile of a 2,000,000-row CSV, against pandas read_csv + profile | missing (BenchmarkBigDataset upload-s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}
