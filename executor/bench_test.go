package executor

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// writeCSV writes a deterministic CSV of rows rows: an id, a category, a
// region, two numbers (one with gaps) and a date.
func writeCSV(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	regions := []string{"North", "South", "East", "West"}
	fmt.Fprintln(w, "id,category,region,units,price,date")
	for i := range rows {
		units := ""
		if r.IntN(20) != 0 {
			units = fmt.Sprint(r.IntN(100))
		}
		fmt.Fprintf(w, "%d,cat%d,%s,%s,%.2f,2024-%02d-%02d\n", i, r.IntN(50), regions[r.IntN(4)], units,
			r.Float64()*100, 1+r.IntN(12), 1+r.IntN(28))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchDataset writes a 100,000-row CSV into b.TempDir().
func benchDataset(b *testing.B) []Dataset {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := writeCSV(path, 100_000); err != nil {
		b.Fatal(err)
	}
	return []Dataset{{Name: "bench", Path: path, Format: "csv"}}
}

// BenchmarkExecuteTrivial measures one execution in a warm kernel: a fork,
// the code, and the result's way back.
func BenchmarkExecuteTrivial(b *testing.B) {
	e := shared(b)
	runOK(b, e, "bench-trivial", sales, "x = 1") // warm
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Execute(context.Background(), Request{Key: "bench-trivial", Datasets: sales, Code: "x = 1"})
		if err != nil || !res.OK {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkExecuteDataFrame measures df.describe() on a 100,000-row dataset
// already loaded in a warm kernel, the table included in the result.
func BenchmarkExecuteDataFrame(b *testing.B) {
	e := shared(b)
	ds := benchDataset(b)
	runOK(b, e, "bench-df", ds, "x = 1") // start the kernel, load the dataset
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Execute(context.Background(), Request{Key: "bench-df", Datasets: ds, Code: "df.describe()"})
		if err != nil || !res.OK || len(res.Tables) != 1 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

// BenchmarkColdPythonStart is what a naive executor does for the same work as
// BenchmarkExecuteDataFrame: start an interpreter, import the data stack,
// read the dataset and describe it, every time (without any sandbox).
func BenchmarkColdPythonStart(b *testing.B) {
	requirePython(b)
	ds := benchDataset(b)
	code := fmt.Sprintf("import pandas as pd, numpy, plotly, sklearn\ndf = pd.read_csv(%q)\nprint(df.describe())", ds[0].Path)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(defaultPython, "-I", "-c", code)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}
