package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkBigDataset measures a big dataset's way through the system side by
// side with pandas, the peer a user would pick instead (issue 17): a CSV of
// 2,000,000 rows and 10 columns (BIG_ROWS sets another count), about 120 MB.
//
//   - upload-s: uploadDataset until it answers (the file stored, read,
//     cleaned and profiled in the sandbox), against pandas-read+profile-s,
//     read_csv and the same profile (kernel.datasets.column_profile) in one
//     Python process; upload-rss-MiB is how much the server's RSS grew;
//   - first-exec-s: the chat's first execution (its kernel reads the
//     dataset), executeCode until RUN_SUCCEEDED, against pandas-read-s;
//   - trivial-p50-ms: print(df.shape) on the loaded frame, the execution's
//     own duration (durationMs), p50 of 20;
//   - groupby-p50-ms: df.groupby('region')['price'].mean(), p50 of 10,
//     against the same in the warm pandas process (pandas-groupby-p50-ms);
//   - kernels-MiB: the PSS of the server's kernels once the frame is loaded.
//
// The pandas peer runs before and after the system in each iteration; its
// figures are the mean of both.
func BenchmarkBigDataset(b *testing.B) {
	rows := 2_000_000
	if s := os.Getenv("BIG_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	csvPath := filepath.Join(b.TempDir(), "big.csv")
	if err := writeBigCSV(csvPath, rows); err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, map[string]string{
		"UPLOAD_MAX_BYTES": strconv.Itoa(512 << 20),
		"RATE_LIMIT":       "0",
		"LOG_LEVEL":        "warn",
	})
	token := srv.session()
	var m bigMeasures
	for b.Loop() {
		before := runPandasPeer(b, csvPath, 10)
		m.add(measureBigDataset(b, srv, token, csvPath))
		after := runPandasPeer(b, csvPath, 10)
		m.peerRead = append(m.peerRead, (before.ReadS+after.ReadS)/2)
		m.peerProfile = append(m.peerProfile, (before.ReadS+before.ProfileS+after.ReadS+after.ProfileS)/2)
		m.peerGroupby = append(m.peerGroupby, 1e3*(median(before.GroupbyS)+median(after.GroupbyS))/2)
	}
	m.report(b)
}

// bigMeasures are BenchmarkBigDataset's figures, one per iteration.
type bigMeasures struct {
	upload, rssMiB, first, trivial, groupby, kernelsMiB []float64
	peerRead, peerProfile, peerGroupby                  []float64
}

func (m *bigMeasures) add(one bigMeasures) {
	m.upload = append(m.upload, one.upload...)
	m.rssMiB = append(m.rssMiB, one.rssMiB...)
	m.first = append(m.first, one.first...)
	m.trivial = append(m.trivial, one.trivial...)
	m.groupby = append(m.groupby, one.groupby...)
	m.kernelsMiB = append(m.kernelsMiB, one.kernelsMiB...)
}

func (m *bigMeasures) report(b *testing.B) {
	upload, peerProfile := median(m.upload), median(m.peerProfile)
	first, peerRead := median(m.first), median(m.peerRead)
	groupby, peerGroupby := median(m.groupby), median(m.peerGroupby)
	b.ReportMetric(upload, "upload-s")
	b.ReportMetric(peerProfile, "pandas-read+profile-s")
	b.ReportMetric(upload/peerProfile, "upload/pandas")
	b.ReportMetric(median(m.rssMiB), "upload-rss-MiB")
	b.ReportMetric(first, "first-exec-s")
	b.ReportMetric(peerRead, "pandas-read-s")
	b.ReportMetric(first/peerRead, "first-exec/pandas-read")
	b.ReportMetric(median(m.trivial), "trivial-p50-ms")
	b.ReportMetric(groupby, "groupby-p50-ms")
	b.ReportMetric(peerGroupby, "pandas-groupby-p50-ms")
	b.ReportMetric(groupby/peerGroupby, "groupby/pandas")
	b.ReportMetric(median(m.kernelsMiB), "kernels-MiB")
}

// measureBigDataset uploads the CSV, opens a chat on it and runs its
// executions; the upload is removed at the end.
func measureBigDataset(b *testing.B, srv *server, token, csvPath string) bigMeasures {
	var m bigMeasures
	f, err := os.Open(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rss := procStatus(b, srv.cmd.Process.Pid, "VmRSS")
	start := time.Now()
	up := srv.upload(token, uploadMutation, map[string]any{"f": nil, "name": "big"}, "f", "big.csv", f)
	m.upload = append(m.upload, time.Since(start).Seconds())
	m.rssMiB = append(m.rssMiB, float64(procStatus(b, srv.cmd.Process.Pid, "VmRSS")-rss)/(1<<20))
	var uploaded struct {
		UploadDataset []struct {
			ID       string
			RowCount int `json:"rowCount"`
		} `json:"uploadDataset"`
	}
	if len(up.Errors) > 0 || json.Unmarshal(up.Data, &uploaded) != nil || len(uploaded.UploadDataset) != 1 {
		b.Fatalf("upload: %+v", up)
	}
	ds := uploaded.UploadDataset[0].ID
	defer srv.do(token, `mutation($id: ID!) { deleteDataset(id: $id) }`, map[string]any{"id": ds})
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(token, createChatMutation, map[string]any{"ids": []string{ds}}, &chat)

	start = time.Now()
	res := executeToEnd(b, srv, token, chat.CreateChat.ID, "print(df.shape)")
	m.first = append(m.first, time.Since(start).Seconds())
	if want := fmt.Sprintf("(%d, 10)", uploaded.UploadDataset[0].RowCount); !strings.Contains(res.Stdout, want) {
		b.Fatalf("print(df.shape) printed %q, want %s", res.Stdout, want)
	}
	m.kernelsMiB = append(m.kernelsMiB, float64(kernelsPSS(b, srv.cmd.Process.Pid))/(1<<20))
	var trivial, groupby []float64
	for range 20 {
		trivial = append(trivial, float64(executeToEnd(b, srv, token, chat.CreateChat.ID, "print(df.shape)").DurationMs))
	}
	for range 10 {
		groupby = append(groupby, float64(executeToEnd(b, srv, token, chat.CreateChat.ID,
			"df.groupby('region')['price'].mean()").DurationMs))
	}
	m.trivial = append(m.trivial, median(trivial))
	m.groupby = append(m.groupby, median(groupby))
	return m
}

// executeToEnd runs code in chat and returns its result once the run
// succeeded.
func executeToEnd(b *testing.B, srv *server, token, chat, code string) *eventResult {
	b.Helper()
	runID := execute(b, srv, token, chat, code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, nil)
	if err != nil || gerr != nil {
		b.Fatalf("run %s: %v %+v", runID, err, gerr)
	}
	for _, e := range evs {
		if e.Result != nil {
			if !e.Result.OK {
				b.Fatalf("%s failed: %s", code, e.Result.Error)
			}
			return e.Result
		}
	}
	b.Fatalf("run %s: no result in %+v", runID, evs)
	return nil
}

// pandasPeer is what testdata/bench/pandas_peer.py prints.
type pandasPeer struct {
	ReadS    float64   `json:"read_s"`
	ProfileS float64   `json:"profile_s"`
	GroupbyS []float64 `json:"groupby_s"`
	Rows     int       `json:"rows"`
}

// runPandasPeer times read_csv, the profile and rounds groupby means in one
// Python process with Debian's pandas.
func runPandasPeer(b *testing.B, csvPath string, rounds int) pandasPeer {
	b.Helper()
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	out, err := exec.Command(python, "-B", "testdata/bench/pandas_peer.py", "../executor", csvPath, strconv.Itoa(rounds)).Output()
	if err != nil {
		b.Fatalf("pandas peer: %v", err)
	}
	var p pandasPeer
	if err := json.Unmarshal(out, &p); err != nil {
		b.Fatalf("pandas peer printed %q: %v", out, err)
	}
	return p
}

// writeBigCSV writes a deterministic CSV of rows rows and 10 columns: an id,
// three text columns of few values (category, region, city), integers with
// gaps, three numbers, a small integer and an ISO date.
func writeBigCSV(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	regions := []string{"North", "South", "East", "West"}
	fmt.Fprintln(w, "id,category,region,city,units,price,area,rooms,score,date")
	for i := range rows {
		units := ""
		if r.IntN(20) != 0 {
			units = strconv.Itoa(r.IntN(100))
		}
		fmt.Fprintf(w, "%d,cat%d,%s,city%d,%s,%.2f,%.1f,%d,%.3f,2024-%02d-%02d\n", i, r.IntN(50),
			regions[r.IntN(4)], r.IntN(200), units, r.Float64()*1000, r.Float64()*300, 1+r.IntN(7), r.Float64(),
			1+r.IntN(12), 1+r.IntN(28))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// kernelsPSS sums the proportional set size of pid's descendants (the
// server's kernels and their sandboxes), in bytes.
func kernelsPSS(b *testing.B, pid int) int64 {
	b.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command (in parentheses): state, ppid.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 {
			parent[p], _ = strconv.Atoi(fields[1])
		}
	}
	var total int64
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				total += pss(p)
				break
			}
		}
	}
	return total
}

// pss reads a process's Pss from /proc/<pid>/smaps_rollup (0 when gone).
func pss(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
