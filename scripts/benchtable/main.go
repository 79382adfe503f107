// Command benchtable reads the output of `go test -bench` (on stdin) and
// prints the table of issue 17's measures: each one next to its peer
// (pandas, Jupyter, the embedded mode) from the same run, its ratio and its
// target, and whether the target holds. A benchmark run more than once
// (-count) counts by the median of its runs.
//
// It exits with status 1 when a benchmark failed or one of the table's
// benchmarks is missing; a target that does not hold is reported, not an
// error.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// runs holds every reported metric: benchmark name (without the -N suffix
// of GOMAXPROCS) -> metric unit -> one value per run.
type runs map[string]map[string][]float64

// benchLine matches a result line: name, iterations, then value/unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) (runs, bool, error) {
	out := runs{}
	failed := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") {
			failed = true
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			if out[m[1]] == nil {
				out[m[1]] = map[string][]float64{}
			}
			out[m[1]][f[i+1]] = append(out[m[1]][f[i+1]], v)
		}
	}
	return out, failed, sc.Err()
}

// get is the median of a metric's runs; ok is false when it was not reported.
func (r runs) get(bench, unit string) (v float64, n int, ok bool) {
	xs := r[bench][unit]
	if len(xs) == 0 {
		return 0, 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], len(s), true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, len(s), true
}

// row is one line of the table: ours against peer (when there is one), and
// the target on the ratio (on ours when there is no peer, or onOurs). most
// says whether the target is an upper bound.
type row struct {
	measure          string
	bench            string
	ours, peer       string // metric units
	peerBench        string // "" when the peer is in bench
	ratio            string // a reported ratio; "" to compute ours/peer
	target           float64
	most, onOurs     bool
	oursFmt, peerFmt string
}

var table = []row{
	{measure: "chat-turn system overhead, embedded (ms, p50 of 20)", bench: "BenchmarkChatTurnOverhead", ours: "embedded-overhead-ms", target: 40, most: true, oursFmt: "%.1f ms"},
	{measure: "chat-turn system overhead, Redis + PostgreSQL (ms, p50 of 20)", bench: "BenchmarkChatTurnOverhead", ours: "redis-overhead-ms", peer: "embedded-overhead-ms", target: 40, most: true, onOurs: true, oursFmt: "%.1f ms", peerFmt: "embedded %.1f ms"},
	{measure: "upload and profile of a 2,000,000-row CSV, against pandas read_csv + profile", bench: "BenchmarkBigDataset", ours: "upload-s", peer: "pandas-read+profile-s", ratio: "upload/pandas", target: 1.2, most: true, oursFmt: "%.2f s", peerFmt: "%.2f s"},
	{measure: "server RSS growth during that upload (MiB)", bench: "BenchmarkBigDataset", ours: "upload-rss-MiB", target: 32, most: true, oursFmt: "%.1f MiB"},
	{measure: "the chat's first execution on it, against read_csv", bench: "BenchmarkBigDataset", ours: "first-exec-s", peer: "pandas-read-s", ratio: "first-exec/pandas-read", target: 1.2, most: true, oursFmt: "%.2f s", peerFmt: "%.2f s"},
	{measure: "print(df.shape) on the 2,000,000-row frame (ms, p50)", bench: "BenchmarkBigDataset", ours: "trivial-p50-ms", target: 15, most: true, oursFmt: "%.1f ms"},
	{measure: "df.groupby('region')['price'].mean(), against warm pandas", bench: "BenchmarkBigDataset", ours: "groupby-p50-ms", peer: "pandas-groupby-p50-ms", ratio: "groupby/pandas", target: 1.2, most: true, oursFmt: "%.1f ms", peerFmt: "%.1f ms"},
	{measure: "kernels' memory with the 2,000,000-row frame (PSS)", bench: "BenchmarkBigDataset", ours: "kernels-MiB", oursFmt: "%.0f MiB"},
	{measure: "back-to-back trivial executions against Jupyter (paired ratio)", bench: "BenchmarkSideBySide", ours: "exec-p50-ms", peer: "jupyter-p50-ms", ratio: "exec/jupyter-paired", target: 1.0, most: true, oursFmt: "%.1f ms", peerFmt: "%.1f ms"},
	{measure: "paced trivial executions against Jupyter", bench: "BenchmarkSideBySide", ours: "paced-p50-ms", peer: "jupyter-paced-p50-ms", ratio: "paced-exec/jupyter", target: 0.4, most: true, oursFmt: "%.1f ms", peerFmt: "%.1f ms"},
	{measure: "kernel memory with a 100,000-row frame (PSS)", bench: "BenchmarkSideBySide", ours: "kernel-MiB", oursFmt: "%.0f MiB"},
	{measure: "trivial runs end to end, memory broker (runs/s)", bench: "BenchmarkRunsEndToEnd/memory", ours: "runs/s", target: 150, oursFmt: "%.0f/s"},
	{measure: "trivial runs end to end, Redis, two worker processes against one", bench: "BenchmarkRunsEndToEnd/redis/workers=2", ours: "runs/s", peerBench: "BenchmarkRunsEndToEnd/redis/workers=1", peer: "runs/s", target: 1.0, oursFmt: "%.0f/s", peerFmt: "%.0f/s"},
}

func main() {
	r, failed, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	missing := writeTable(os.Stdout, r)
	if failed || missing > 0 {
		fmt.Fprintf(os.Stderr, "benchtable: %d measures missing; a benchmark failed: %v\n", missing, failed)
		os.Exit(1)
	}
}

// writeTable writes the table and returns how many of its measures are missing.
func writeTable(w io.Writer, r runs) int {
	missing := 0
	fmt.Fprintln(w, "| measure | ours | peer | ratio | target | holds | runs |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, row := range table {
		ours, n, ok := r.get(row.bench, row.ours)
		if !ok {
			missing++
			fmt.Fprintf(w, "| %s | missing (%s %s) | | | | | |\n", row.measure, row.bench, row.ours)
			continue
		}
		peerText, ratioText, value := "", "", ours
		if row.peer != "" {
			pb := row.peerBench
			if pb == "" {
				pb = row.bench
			}
			peer, _, pok := r.get(pb, row.peer)
			if pok {
				peerText = fmt.Sprintf(row.peerFmt, peer)
				value = ours / peer
				if row.ratio != "" {
					value, _, _ = r.get(row.bench, row.ratio)
				}
				ratioText = fmt.Sprintf("%.2f", value)
			}
		}
		if row.onOurs {
			value = ours
		}
		targetText, holds := "", ""
		if row.target != 0 {
			if row.most {
				targetText = fmt.Sprintf("≤ %g", row.target)
				holds = yes(value <= row.target)
			} else {
				targetText = fmt.Sprintf("≥ %g", row.target)
				holds = yes(value >= row.target)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d |\n", row.measure, fmt.Sprintf(row.oursFmt, ours),
			peerText, ratioText, targetText, holds, n)
	}
	return missing
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}
