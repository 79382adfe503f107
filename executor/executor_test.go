package executor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewSandboxUnavailable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name    string
		cfg     Config
		sandbox bool // the error must wrap ErrSandboxUnavailable
	}{
		{"nonexistent bwrap", Config{Sandbox: true, BwrapPath: missing}, true},
		{"bwrap not in PATH", Config{Sandbox: true, BwrapPath: "autoanalyst-no-such-bwrap"}, true},
		{"nonexistent python, sandboxed", Config{Sandbox: true, Python: missing}, true},
		{"nonexistent python, unsandboxed", Config{Sandbox: false, Python: missing}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatal("New succeeded")
			}
			if got := errors.Is(err, ErrSandboxUnavailable); got != tt.sandbox {
				t.Fatalf("errors.Is(%v, ErrSandboxUnavailable) = %v, want %v", err, got, tt.sandbox)
			}
		})
	}
}

func TestExecuteCapture(t *testing.T) {
	e := shared(t)
	type plotlyDoc struct {
		Data []struct {
			Type string `json:"type"`
		} `json:"data"`
		Layout map[string]any `json:"layout"`
	}
	figures := func(t *testing.T, res *Result, types ...string) {
		t.Helper()
		if len(res.Figures) != len(types) {
			t.Fatalf("%d figures, want %d", len(res.Figures), len(types))
		}
		for i, raw := range res.Figures {
			var doc plotlyDoc
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("figure %d is not JSON: %v", i, err)
			}
			if len(doc.Data) == 0 || doc.Data[0].Type != types[i] || doc.Layout == nil {
				t.Fatalf("figure %d: want a %s Plotly document with data and layout, got %.200s", i, types[i], raw)
			}
		}
	}
	pngs := func(t *testing.T, res *Result, n int) {
		t.Helper()
		if len(res.Images) != n {
			t.Fatalf("%d images, want %d", len(res.Images), n)
		}
		for i, img := range res.Images {
			b, err := base64.StdEncoding.DecodeString(img)
			if err != nil {
				t.Fatalf("image %d is not base64: %v", i, err)
			}
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
				t.Fatalf("image %d is not a PNG (%d bytes)", i, len(b))
			}
		}
	}
	table := func(t *testing.T, res *Result, i int, columns string, rows int) Table {
		t.Helper()
		if len(res.Tables) <= i {
			t.Fatalf("%d tables, want table %d", len(res.Tables), i)
		}
		tb := res.Tables[i]
		if got := strings.Join(tb.Columns, ","); got != columns {
			t.Fatalf("table %d columns %q, want %q", i, got, columns)
		}
		if len(tb.Rows) != rows {
			t.Fatalf("table %d has %d rows, want %d", i, len(tb.Rows), rows)
		}
		return tb
	}
	tests := []struct {
		name  string
		code  string
		check func(t *testing.T, res *Result)
	}{
		{"stdout", "print('hello')\nprint('world')", func(t *testing.T, res *Result) {
			if res.Stdout != "hello\nworld\n" || res.Stderr != "" {
				t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
			}
		}},
		{"stderr", "import sys\nprint('out')\nprint('warning: careful', file=sys.stderr)", func(t *testing.T, res *Result) {
			if res.Stdout != "out\n" || res.Stderr != "warning: careful\n" {
				t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
			}
		}},
		{"native output", "import os\nn = os.write(1, b'from fd 1\\n')\nn = os.write(2, b'from fd 2\\n')", func(t *testing.T, res *Result) {
			if res.Stdout != "from fd 1\n" || res.Stderr != "from fd 2\n" {
				t.Fatalf("stdout %q stderr %q", res.Stdout, res.Stderr)
			}
		}},
		{"dataset shape", "print(df.shape)\nprint(sales.shape)\nprint(df is sales)", func(t *testing.T, res *Result) {
			if res.Stdout != "(6, 5)\n(6, 5)\nTrue\n" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
		{"dataset values", "print(int(df['units'].sum()), df['units'].isna().sum(), list(df.columns))", func(t *testing.T, res *Result) {
			if res.Stdout != "37 1 ['region', 'product', 'units', 'price', 'date']\n" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
		{"last expression value", "x = 41\nx + 1", func(t *testing.T, res *Result) {
			if res.Stdout != "42\n" || len(res.Tables) != 0 {
				t.Fatalf("stdout %q, %d tables", res.Stdout, len(res.Tables))
			}
		}},
		{"last expression None", "x = 1\nNone", func(t *testing.T, res *Result) {
			if res.Stdout != "" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
		{"DataFrame last expression", "df", func(t *testing.T, res *Result) {
			tb := table(t, res, 0, "region,product,units,price,date", 6)
			if len(res.Tables) != 1 || tb.Truncated {
				t.Fatalf("%d tables, truncated %v", len(res.Tables), tb.Truncated)
			}
			if tb.Rows[0][0] != "North" || tb.Rows[0][2] != 10.0 || tb.Rows[1][2] != nil || tb.Rows[5][4] != nil {
				t.Fatalf("rows %v (NaN must become null)", tb.Rows)
			}
		}},
		{"Series last expression", "df.groupby('region')['units'].sum()", func(t *testing.T, res *Result) {
			tb := table(t, res, 0, "region,units", 4)
			if tb.Rows[0][0] != "East" || tb.Rows[0][1] != 7.0 || tb.Rows[1][0] != "North" || tb.Rows[1][1] != 22.0 {
				t.Fatalf("rows %v", tb.Rows)
			}
		}},
		{"print and display DataFrames", "print(df.head(2))\ndisplay(df[['region']].tail(3))\nx = 1", func(t *testing.T, res *Result) {
			if len(res.Tables) != 2 {
				t.Fatalf("%d tables, want 2", len(res.Tables))
			}
			table(t, res, 0, "region,product,units,price,date", 2)
			table(t, res, 1, "index,region", 3) // not a 0-based RangeIndex: the index becomes a column
			if !strings.Contains(res.Stdout, "Widget") {
				t.Fatalf("print(df) should also print: %q", res.Stdout)
			}
		}},
		{"table truncated", "pd.DataFrame({'a': range(1000)})", func(t *testing.T, res *Result) {
			if tb := table(t, res, 0, "a", 200); !tb.Truncated {
				t.Fatal("a table of 1000 rows should be marked truncated")
			}
		}},
		{"plotly fig.show", "fig = px.bar(df, x='region', y='units')\nfig.show()", func(t *testing.T, res *Result) {
			figures(t, res, "bar")
		}},
		{"plotly shown twice and left behind is one figure", "fig = px.bar(df, x='region', y='units')\nfig.show()\nfig.show()", func(t *testing.T, res *Result) {
			figures(t, res, "bar")
		}},
		{"plotly figures left in variables", "a = px.scatter(df, x='units', y='price')\nb = go.Figure(go.Pie(labels=df['region'], values=df['units']))", func(t *testing.T, res *Result) {
			figures(t, res, "scatter", "pie")
		}},
		{"plotly to_html", "html = px.line(df, x='date', y='units').to_html()\nprint(len(html) > 1000)", func(t *testing.T, res *Result) {
			figures(t, res, "scatter") // px.line draws scatter traces in lines mode
			if res.Stdout != "True\n" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
		{"plotly figure in a variable, not shown", "fig = go.Figure()\nfig.show", func(t *testing.T, res *Result) {
			if len(res.Figures) != 0 { // an empty figure left behind is not captured
				t.Fatalf("%d figures", len(res.Figures))
			}
		}},
		{"matplotlib plt.show", "plt.plot([1, 2, 3], [4, 1, 3])\nplt.title('t')\nplt.show()", func(t *testing.T, res *Result) {
			pngs(t, res, 1)
			if res.Figures == nil || len(res.Figures) != 0 {
				t.Fatalf("figures %v, want an empty list", res.Figures)
			}
		}},
		{"matplotlib figure left open", "fig, ax = plt.subplots()\ncounts, bins, bars = ax.hist(df['units'].dropna())", func(t *testing.T, res *Result) {
			pngs(t, res, 1)
			if res.Stdout != "" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
		{"matplotlib savefig and pandas plot", "ax = df.plot.bar(x='region', y='units')\nplt.savefig('/tmp/chart.png')\nplt.close('all')\nfig2 = plt.figure()\nplt.scatter(df['units'], df['price'])\nplt.show()", func(t *testing.T, res *Result) {
			pngs(t, res, 2)
		}},
		{"scikit-learn and statsmodels", "from sklearn.linear_model import LinearRegression\nd = df.dropna()\nm = LinearRegression().fit(d[['units']], d['price'])\nr = smf.ols('price ~ units', data=d).fit()\nprint(round(float(m.coef_[0]), 6) == round(float(r.params['units']), 6))", func(t *testing.T, res *Result) {
			if res.Stdout != "True\n" {
				t.Fatalf("stdout %q", res.Stdout)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, e, mainKey, sales, tt.code)
			if !res.OK || res.Error != nil {
				t.Fatalf("failed: %+v\nstdout: %s\nstderr: %s", res.Error, res.Stdout, res.Stderr)
			}
			if res.Duration <= 0 {
				t.Errorf("duration %v", res.Duration)
			}
			tt.check(t, res)
		})
	}
}

func TestDatasetFormats(t *testing.T) {
	t.Parallel()
	e := shared(t)
	datasets := []Dataset{
		testdata("sales", "sales.csv", "csv"),
		testdata("sales_xlsx", "sales.xlsx", "xlsx"),
		{Name: "targets", Path: "testdata/sales.xlsx", Format: "XLSX", Sheet: "Targets"},
		testdata("sales_xls", "sales.xls", "xls"),
		{Name: "targets_xls", Path: "testdata/sales.xls", Format: "XLS", Sheet: "Targets"},
		testdata("customers", "customers.json", "json"),
		testdata("cities", "semicolon.csv", "csv"),
	}
	tests := []struct {
		name, expr, want string
	}{
		{"csv", "sales.shape", "(6, 5)"},
		{"first dataset is df", "df is sales", "True"},
		{"xlsx first sheet", "sales_xlsx.shape", "(6, 5)"},
		{"xlsx equals csv", "sales_xlsx['units'].equals(sales['units']) and list(sales_xlsx.columns) == list(sales.columns)", "True"},
		{"xlsx named sheet", "targets.shape, int(targets['target'].sum())", "((4, 2), 48)"},
		{"xls equals csv", "all(sales_xls[c].equals(sales[c]) for c in sales.columns) and list(sales_xls.columns) == list(sales.columns)", "True"},
		{"xls named sheet", "targets_xls.shape, int(targets_xls['target'].sum())", "((4, 2), 48)"},
		{"iso dates are datetimes", "str(sales['date'].dtype), int(sales['date'].dt.year.min()), str(sales_xlsx['date'].dtype)", "('datetime64[ns]', 2024, 'datetime64[ns]')"},
		{"json records", "customers.shape, list(customers.columns), int(customers['region'].isna().sum())", "((4, 3), ['id', 'name', 'region'], 1)"},
		{"csv with semicolons", "cities.shape, list(cities.columns), int(cities['temp'].sum())", "((3, 3), ['city', 'country', 'temp'], 48)"},
		{"join across datasets", "len(sales.merge(customers, on='region'))", "5"},
	}
	var code strings.Builder
	for _, tt := range tests {
		code.WriteString("print((" + tt.expr + "))\n")
	}
	lines := strings.Split(strings.TrimSuffix(runOK(t, e, "formats", datasets, code.String()), "\n"), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("%d lines of output for %d expressions: %q", len(lines), len(tests), lines)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if lines[i] != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, lines[i], tt.want)
			}
		})
	}
}

func TestExecuteErrors(t *testing.T) {
	e := shared(t)
	const agents = `# preprocessing_agent code start
clean = df.dropna()
print(len(clean))
%s
# preprocessing_agent code end
# data_viz_agent code start
fig = px.bar(clean, x='region', y='units')
%s
fig.show()
# data_viz_agent code end
%s
print('done')`
	tests := []struct {
		name     string
		code     string
		typ      string
		message  string // contained in Error.Message
		line     int
		agent    string
		stdout   string
		tracebck string // contained in Error.Traceback
	}{
		{name: "NameError", code: "x = 1\ny = undefined_name + x", typ: "NameError",
			message: "name 'undefined_name' is not defined", line: 2, tracebck: "undefined_name + x"},
		{name: "ZeroDivisionError", code: "print('before')\n1/0", typ: "ZeroDivisionError",
			message: "division by zero", line: 2, stdout: "before\n"},
		{name: "KeyError on a column", code: "df['no_such_column']", typ: "KeyError",
			message: "no_such_column", line: 1},
		{name: "raised in a function", code: "def f(d):\n    return d['missing']\n\n\nf({})", typ: "KeyError",
			message: "missing", line: 2},
		{name: "raise ValueError", code: "raise ValueError('boom')", typ: "ValueError",
			message: "boom", line: 1, tracebck: "ValueError: boom"},
		{name: "raised in pandas", code: "x = 1\npd.to_datetime('not a date at all')", typ: "ParserError",
			line: 2},
		{name: "SyntaxError", code: "x = 1\nif x\n    print(x)", typ: "SyntaxError",
			message: "expected ':'", line: 2},
		{name: "IndentationError", code: "x = 1\n  y = 2", typ: "IndentationError",
			message: "unexpected indent", line: 2},
		{name: "preprocessing agent", code: fmt.Sprintf(agents, "clean = clean.dropna(subset=['nope'])", "", ""),
			typ: "KeyError", message: "nope", line: 4, agent: "preprocessing_agent", stdout: "3\n"},
		{name: "data_viz agent", code: fmt.Sprintf(agents, "", "fig.update_layout(title=undefined_title)", ""),
			typ: "NameError", message: "undefined_title", line: 8, agent: "data_viz_agent", stdout: "3\n"},
		{name: "outside agent blocks", code: fmt.Sprintf(agents, "", "", "raise RuntimeError('after the agents')"),
			typ: "RuntimeError", message: "after the agents", line: 11, agent: "", stdout: "3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, e, mainKey, sales, tt.code)
			wantErrorType(t, res, tt.typ)
			er := res.Error
			if !strings.Contains(er.Message, tt.message) {
				t.Errorf("message %q, want it to contain %q", er.Message, tt.message)
			}
			if er.Line != tt.line {
				t.Errorf("line %d, want %d", er.Line, tt.line)
			}
			if er.Agent != tt.agent {
				t.Errorf("agent %q, want %q", er.Agent, tt.agent)
			}
			if res.Stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", res.Stdout, tt.stdout)
			}
			if !strings.Contains(er.Traceback, tt.tracebck) || !strings.Contains(er.Traceback, tt.typ) {
				t.Errorf("traceback %q, want it to contain %q and %q", er.Traceback, tt.tracebck, tt.typ)
			}
			if strings.Contains(er.Traceback, "kernel") {
				t.Errorf("traceback shows the kernel's frames: %s", er.Traceback)
			}
			if er.Error() != er.Type+": "+er.Message {
				t.Errorf("Error() = %q", er.Error())
			}
		})
	}
}

func TestExit(t *testing.T) {
	e := shared(t)
	pid := 0
	tests := []struct {
		name    string
		code    string
		ok      bool
		typ     string
		message string
		stdout  string
	}{
		{"sys.exit(0)", "import sys\nprint('a')\nsys.exit(0)\nprint('b')", true, "", "", "a\n"},
		{"sys.exit()", "import sys\nsys.exit()", true, "", "", ""},
		{"exit()", "print('a')\nexit()", true, "", "", "a\n"},
		{"sys.exit(2)", "import sys\nsys.exit(2)", false, "SystemExit", "exit(2)", ""},
		{"raise SystemExit(message)", "raise SystemExit('bye')", false, "SystemExit", "exit('bye')", ""},
		{"os._exit(3)", "import os, sys\nprint('before')\nsys.stdout.flush()\nos._exit(3)", false, "SystemExit", "exit status 3", "before\n"},
		{"os._exit(0)", "import os\nos._exit(0)", false, "SystemExit", "exit status 0", ""},
		{"segmentation fault", "import ctypes\nctypes.string_at(0)", false, "ExecutionCrashed", "crashed with signal 11", ""},
		{"os.abort()", "import os\nos.abort()", false, "ExecutionCrashed", "crashed with signal", ""},
		// The execution is pid 1 of its own pid namespace: signals it sends
		// itself without a handler are ignored, and it sees no other process.
		{"SIGKILL to itself", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nprint('still here')", true, "", "", "still here\n"},
		{"SIGKILL to every process it can see", "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError as e:\n    print(type(e).__name__)", true, "", "", "ProcessLookupError\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pid == 0 {
				runOK(t, e, mainKey, sales, "x = 1")
				pid = kernelPID(t, e, mainKey, sales)
			}
			res := run(t, e, mainKey, sales, tt.code)
			if tt.ok {
				if !res.OK || res.Error != nil {
					t.Fatalf("failed: %+v", res.Error)
				}
			} else {
				wantErrorType(t, res, tt.typ)
				if !strings.Contains(res.Error.Message, tt.message) {
					t.Errorf("message %q, want it to contain %q", res.Error.Message, tt.message)
				}
			}
			if res.Stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", res.Stdout, tt.stdout)
			}
			wantAlive(t, e, mainKey, sales, pid)
		})
	}
}

func TestInvalidRequest(t *testing.T) {
	e := shared(t)
	dir := t.TempDir()
	good := testdata("sales", "sales.csv", "csv")
	with := func(f func(*Dataset)) []Dataset {
		ds := good
		f(&ds)
		return []Dataset{ds}
	}
	tests := []struct {
		name     string
		datasets []Dataset
		code     string
	}{
		{"name of a Python builtin", with(func(d *Dataset) { d.Name = "sum" }), "x = 1"},
		{"name of a Python exception", with(func(d *Dataset) { d.Name = "ValueError" }), "x = 1"},
		{"name with a dash", with(func(d *Dataset) { d.Name = "my-data" }), "x = 1"},
		{"name starting with a digit", with(func(d *Dataset) { d.Name = "1data" }), "x = 1"},
		{"empty name", with(func(d *Dataset) { d.Name = "" }), "x = 1"},
		{"name too long", with(func(d *Dataset) { d.Name = strings.Repeat("a", 31) }), "x = 1"},
		{"dunder name", with(func(d *Dataset) { d.Name = "__builtins__" }), "x = 1"},
		{"keyword", with(func(d *Dataset) { d.Name = "class" }), "x = 1"},
		{"reserved module name", with(func(d *Dataset) { d.Name = "pd" }), "x = 1"},
		{"df not first", []Dataset{good, testdata("df", "customers.json", "json")}, "x = 1"},
		{"duplicate names", []Dataset{good, good}, "x = 1"},
		{"unknown format", with(func(d *Dataset) { d.Format = "parquet" }), "x = 1"},
		{"empty format", with(func(d *Dataset) { d.Format = "" }), "x = 1"},
		{"missing file", with(func(d *Dataset) { d.Path = filepath.Join(dir, "missing.csv") }), "x = 1"},
		{"directory", with(func(d *Dataset) { d.Path = dir }), "x = 1"},
		{"too many datasets", func() []Dataset {
			var ds []Dataset
			for i := range maxDatasets + 1 {
				ds = append(ds, Dataset{Name: "d" + strings.Repeat("x", i%20) + string(rune('a'+i%26)), Path: good.Path, Format: "csv"})
			}
			return ds
		}(), "x = 1"},
		{"code too large", sales, "x = '" + strings.Repeat("a", maxCodeBytes) + "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Execute(context.Background(), Request{Key: mainKey, Datasets: tt.datasets, Code: tt.code})
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("Execute: res %+v, err %v; want ErrInvalidRequest", res, err)
			}
			if len(tt.datasets) == 1 && len(tt.code) < maxCodeBytes {
				// (Profile names a dataset without a name "data".)
				if _, err := e.Profile(context.Background(), tt.datasets[0]); tt.datasets[0].Name != "" && !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("Profile: %v; want ErrInvalidRequest", err)
				}
			}
		})
	}
}

func TestDatasetLoadError(t *testing.T) {
	t.Parallel()
	e := shared(t)
	notExcel := filepath.Join(t.TempDir(), "fake.xlsx")
	if err := os.WriteFile(notExcel, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ds   Dataset
	}{
		{"malformed json", testdata("broken", "malformed.json", "json")},
		{"csv read as xlsx", Dataset{Name: "fake", Path: notExcel, Format: "xlsx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Execute(context.Background(), Request{Key: "load-error", Datasets: []Dataset{tt.ds}, Code: "print(1)"})
			if !errors.Is(err, ErrDatasetLoad) {
				t.Fatalf("Execute: %v; want ErrDatasetLoad", err)
			}
			if _, err := e.Profile(context.Background(), tt.ds); !errors.Is(err, ErrDatasetLoad) {
				t.Fatalf("Profile: %v; want ErrDatasetLoad", err)
			}
		})
	}
	// Profile only (a failed load costs a kernel start).
	if _, err := e.Profile(context.Background(), Dataset{Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "NoSuchSheet"}); !errors.Is(err, ErrDatasetLoad) {
		t.Fatalf("Profile of a missing sheet: %v; want ErrDatasetLoad", err)
	}
	// The key works with a good dataset afterwards.
	if out := runOK(t, e, "load-error", sales, "print(df.shape)"); out != "(6, 5)\n" {
		t.Fatalf("stdout %q", out)
	}
}

// TestReservedNamesCoverBuiltins checks that Go refuses every dataset name
// that the kernel would refuse for hiding a Python built-in.
func TestReservedNamesCoverBuiltins(t *testing.T) {
	e := shared(t)
	out := runOK(t, e, mainKey, sales, "import builtins\nprint(' '.join(n for n in dir(builtins) if n.isidentifier() and not n.startswith('_')))")
	for _, name := range strings.Fields(out) {
		if !reservedNames[name] {
			t.Errorf("dataset name %q is accepted in Go but refused by the kernel", name)
		}
	}
}

// col is the part of a column.Profile TestProfile compares.
type col struct {
	name, dtype string
	nulls       int64
}

func TestProfile(t *testing.T) {
	e := shared(t)
	salesColumns := []col{
		{"region", "object", 0}, {"product", "object", 0}, {"units", "float64", 1}, {"price", "float64", 1}, {"date", "datetime64[ns]", 1},
	}
	tests := []struct {
		name string
		ds   Dataset
		rows int64
		cols []col
	}{
		{"csv", testdata("sales", "sales.csv", "csv"), 6, salesColumns},
		{"csv without a name", Dataset{Path: "testdata/sales.csv", Format: "csv"}, 6, salesColumns},
		{"xlsx", testdata("sales", "sales.xlsx", "xlsx"), 6, salesColumns},
		{"xlsx sheet", Dataset{Name: "t", Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "Targets"}, 4,
			[]col{{"region", "object", 0}, {"target", "int64", 0}}},
		{"xls", testdata("sales", "sales.xls", "xls"), 6, salesColumns},
		{"xls sheet", Dataset{Name: "t", Path: "testdata/sales.xls", Format: "xls", Sheet: "Targets"}, 4,
			[]col{{"region", "object", 0}, {"target", "int64", 0}}},
		{"json", testdata("customers", "customers.json", "json"), 4,
			[]col{{"id", "int64", 0}, {"name", "object", 0}, {"region", "object", 1}}},
		{"semicolons", testdata("cities", "semicolon.csv", "csv"), 3,
			[]col{{"city", "object", 0}, {"country", "object", 0}, {"temp", "int64", 0}}},
		{"chosen columns", Dataset{Path: "testdata/sales.csv", Format: "csv", Columns: []string{"price", "region"}}, 6,
			[]col{{"price", "float64", 1}, {"region", "object", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.Profile(context.Background(), tt.ds)
			if err != nil {
				t.Fatal(err)
			}
			if p.RowCount != tt.rows {
				t.Errorf("rows %d, want %d", p.RowCount, tt.rows)
			}
			if len(p.Columns) != len(tt.cols) {
				t.Fatalf("columns %+v, want %+v", p.Columns, tt.cols)
			}
			for i, c := range p.Columns {
				if got := (col{c.Name, c.Dtype, c.NullCount}); got != tt.cols[i] {
					t.Errorf("column %d: %+v, want %+v", i, got, tt.cols[i])
				}
			}
		})
	}
}

func TestProfileDoesNotDisturbExecutions(t *testing.T) {
	e := shared(t)
	runOK(t, e, mainKey, sales, "x = 1")
	pid := kernelPID(t, e, mainKey, sales)
	if _, err := e.Profile(context.Background(), testdata("c", "customers.json", "json")); err != nil {
		t.Fatal(err)
	}
	if pid2 := kernelPID(t, e, mainKey, sales); pid2 != pid {
		t.Fatalf("profiling replaced the chat's kernel (%d -> %d)", pid, pid2)
	}
	if out := runOK(t, e, mainKey, sales, "print('customers' in globals(), df.shape)"); out != "False (6, 5)\n" {
		t.Fatalf("stdout %q", out)
	}
}

func TestDatasetChanged(t *testing.T) {
	t.Parallel()
	e := shared(t)
	path := filepath.Join(t.TempDir(), "data.csv")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ds := []Dataset{{Name: "data", Path: path, Format: "csv"}}
	write("a,b\n1,2\n")
	if out := runOK(t, e, "changed", ds, "print(df.shape, int(df['a'].sum()))"); out != "(1, 2) 1\n" {
		t.Fatalf("stdout %q", out)
	}
	old := kernelPID(t, e, "changed", ds)
	write("a,b\n1,2\n3,4\n5,6\n")
	// A different size (and modification time) means different datasets: a
	// new kernel, and the old one is closed.
	if out := runOK(t, e, "changed", ds, "print(df.shape, int(df['a'].sum()))"); out != "(3, 2) 9\n" {
		t.Fatalf("stdout %q", out)
	}
	if pid := kernelPID(t, e, "changed", ds); pid == old || pid == 0 {
		t.Fatalf("kernel pid %d (old %d): want a new kernel", pid, old)
	}
	if err := waitFor(5*time.Second, func() bool { return !processAlive(old) }); err != nil {
		t.Fatalf("the kernel with the old dataset (pid %d) is still running", old)
	}
}
