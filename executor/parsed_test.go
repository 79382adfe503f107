package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// describeFrame prints what a test compares of a loaded dataset: its
// columns, dtypes and values, and whether df is the same frame.
const describeFrame = `print(list(d.columns)); print(d.dtypes.astype(str).to_dict()); print(d.to_json(date_format="iso")); print(df is d)`

// writeParsed has the reader write ds's parsed form to a new file and
// returns the file's path and what ProfileParsed said.
func writeParsed(t *testing.T, e *Executor, ds Dataset, maxBytes int64) (string, ParsedForm) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "parsed"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	prof, pf, err := e.ProfileParsed(context.Background(), ds, out, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if prof == nil || len(prof.Columns) == 0 {
		t.Fatalf("profile %+v", prof)
	}
	return out.Name(), pf
}

func TestParsedFormLoadsTheSameFrame(t *testing.T) {
	e := shared(t)
	for _, tt := range []struct {
		name string
		ds   Dataset
	}{
		{"csv", Dataset{Path: "testdata/sales.csv", Format: "csv"}},
		{"csv with columns", Dataset{Path: "testdata/sales.csv", Format: "csv", Columns: []string{"price", "region"}}},
		{"xlsx sheet", Dataset{Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "Targets"}},
		{"json", Dataset{Path: "testdata/customers.json", Format: "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parsed, pf := writeParsed(t, e, tt.ds, 1<<20)
			if fi, err := os.Stat(parsed); err != nil || pf.Bytes <= 0 || fi.Size() != pf.Bytes || pf.Problem != "" {
				t.Fatalf("parsed form %+v (stat %v)", pf, err)
			}
			ds := tt.ds
			ds.Name = "d"
			want := runOK(t, e, "plain-"+tt.name, []Dataset{ds}, describeFrame)
			ds.Parsed = parsed
			if got := runOK(t, e, "parsed-"+tt.name, []Dataset{ds}, describeFrame); got != want {
				t.Fatalf("with the parsed form:\n%s\nfrom the file:\n%s", got, want)
			}
		})
	}
}

func TestParsedFormIsRead(t *testing.T) {
	e := shared(t)
	parsed, _ := writeParsed(t, e, Dataset{Path: "testdata/sales.csv", Format: "csv"}, 1<<20)
	// Another file of the same format: the columns show which was read.
	other := writeFile(t, "other.csv", []byte("x\n1\n"))
	ds := Dataset{Name: "d", Path: other, Format: "csv", Parsed: parsed}
	if out := runOK(t, e, "parsed-read", []Dataset{ds}, "print(list(d.columns))"); !strings.Contains(out, "'region'") {
		t.Fatalf("the kernel did not read the parsed form: %s", out)
	}
	// The kernel's key includes the parsed form: without it, a new kernel
	// reads the file.
	ds.Parsed = ""
	if out := runOK(t, e, "parsed-read", []Dataset{ds}, "print(list(d.columns))"); out != "['x']\n" {
		t.Fatalf("without the parsed form: %s", out)
	}
}

func TestParsedFormFallsBack(t *testing.T) {
	e := shared(t)
	sheet, _ := writeParsed(t, e, Dataset{Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "Sales"}, 1<<20)
	corrupt := writeFile(t, "corrupt", []byte("\x80\x05not a pickle at all"))
	cut, _ := writeParsed(t, e, Dataset{Path: "testdata/sales.csv", Format: "csv"}, 1<<20)
	data, err := os.ReadFile(cut)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ds   Dataset
	}{
		{"another sheet", Dataset{Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "Targets", Parsed: sheet}},
		{"another format", Dataset{Path: "testdata/customers.json", Format: "json", Parsed: cut}},
		{"corrupt", Dataset{Path: "testdata/sales.csv", Format: "csv", Parsed: corrupt}},
		{"cut short", Dataset{Path: "testdata/sales.csv", Format: "csv", Parsed: cut}},
		{"missing", Dataset{Path: "testdata/sales.csv", Format: "csv", Parsed: filepath.Join(t.TempDir(), "none")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ds := tt.ds
			ds.Name = "d"
			got := runOK(t, e, "fallback-"+tt.name, []Dataset{ds}, describeFrame)
			ds.Parsed = ""
			if want := runOK(t, e, "plain-"+tt.name, []Dataset{ds}, describeFrame); got != want {
				t.Fatalf("with a bad parsed form:\n%s\nfrom the file:\n%s", got, want)
			}
		})
	}
}

func TestParsedFormBound(t *testing.T) {
	e := shared(t)
	parsed, pf := writeParsed(t, e, Dataset{Path: "testdata/sales.csv", Format: "csv"}, 200)
	if pf.Bytes != 0 || !strings.Contains(pf.Problem, "larger than 200 bytes") {
		t.Fatalf("a parsed form over its bound: %+v", pf)
	}
	if fi, err := os.Stat(parsed); err != nil || fi.Size() > 200 {
		t.Fatalf("the reader wrote past the bound: %v %v", fi.Size(), err)
	}
}

func TestFingerprintIncludesParsed(t *testing.T) {
	ds := Dataset{Name: "d", Path: "testdata/sales.csv", Format: "csv"}
	with := ds
	with.Parsed = writeFile(t, "p", []byte("x"))
	if fingerprint([]Dataset{ds}) == fingerprint([]Dataset{with}) {
		t.Fatal("the fingerprint ignores the parsed form")
	}
	before := fingerprint([]Dataset{with})
	if err := os.WriteFile(with.Parsed, []byte("xy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fingerprint([]Dataset{with}) == before {
		t.Fatal("the fingerprint ignores a changed parsed form")
	}
}
