package dataset

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// The service tests read files in the real sandbox: one Executor for them all.
var (
	execOnce sync.Once
	execErr  error
	exec     *executor.Executor
)

func TestMain(m *testing.M) {
	code := m.Run()
	if exec != nil {
		exec.Close()
	}
	os.Exit(code)
}

// newService returns a Service on a migrated SQLite database, a store in a
// temporary directory and the sandboxed executor, and a context of a new user.
func newService(t *testing.T) (*Service, context.Context) {
	t.Helper()
	execOnce.Do(func() {
		exec, execErr = executor.New(executor.Config{Sandbox: true, DisableSpare: true})
	})
	if errors.Is(execErr, executor.ErrSandboxUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("sandbox unavailable: %v", execErr)
	}
	if execErr != nil {
		t.Fatal(execErr)
	}
	db, err := database.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := db.Client.User.Create().SetName("ada").SaveX(privacy.DecisionContext(context.Background(), privacy.Allow))
	s := &Service{DB: db.Client, Store: &LocalStore{Dir: t.TempDir()}, Profiler: exec, MaxBytes: 1 << 20}
	return s, viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID})
}

func names(ds []*ent.Dataset) string {
	var out []string
	for _, d := range ds {
		cols := make([]string, len(d.Columns))
		for i, c := range d.Columns {
			cols[i] = c.Name
		}
		out = append(out, d.Name+"("+d.Sheet+")"+strings.Join(cols, ","))
	}
	return strings.Join(out, " ")
}

func TestUploadSheetsAndColumns(t *testing.T) {
	s, ctx := newService(t)
	book, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    UploadInput
		want  string
		field string // of the error, when it fails
	}{
		{"first sheet", UploadInput{FileName: "regions.xlsx"}, "regions()Region,Units,Price", ""},
		{"again: a unique name", UploadInput{FileName: "regions.xlsx"}, "regions_2()Region,Units,Price", ""},
		{"two sheets", UploadInput{FileName: "regions.xlsx", Sheets: []string{"Targets", "Sales"}},
			"targets(Targets)region,target sales(Sales)Region,Units,Price", ""},
		{"two sheets with a name", UploadInput{FileName: "regions.xlsx", Name: "q1", Sheets: []string{"Sales", "Targets"}},
			"q1_sales(Sales)Region,Units,Price q1_targets(Targets)region,target", ""},
		{"one sheet with a name, chosen columns", UploadInput{FileName: "regions.xlsx", Name: "prices", Sheets: []string{" Sales "}, Columns: []string{"Price", "Region"}},
			"prices(Sales)Price,Region", ""},
		{"unknown sheet", UploadInput{FileName: "regions.xlsx", Sheets: []string{"Budget"}}, "", "sheets"},
		{"a sheet twice", UploadInput{FileName: "regions.xlsx", Sheets: []string{"Sales", "Sales"}}, "", "sheets"},
		{"unknown column", UploadInput{FileName: "regions.xlsx", Columns: []string{"Revenue"}}, "", "columns"},
		{"a column missing from one sheet", UploadInput{FileName: "regions.xlsx", Sheets: []string{"Sales", "Targets"}, Columns: []string{"Region"}}, "", "columns"},
		{"sheets of a CSV", UploadInput{FileName: "regions.csv", Sheets: []string{"Sales"}}, "", "sheets"},
		{"only empty cells", UploadInput{FileName: "blank.csv", File: strings.NewReader(" , \n,\n , \n")}, "", "file"},
		{"headers only", UploadInput{FileName: "headers.csv", File: strings.NewReader("a, b \n")}, "headers()a,b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.File == nil {
				tt.in.File = bytes.NewReader(book)
			}
			ds, err := s.Upload(ctx, tt.in)
			if tt.field != "" {
				e, ok := errcode.As(err)
				if !ok || e.Code != errcode.BadUserInput || e.Field != tt.field {
					t.Fatalf("err = %v; want BAD_USER_INPUT on %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(ds); got != tt.want {
				t.Fatalf("datasets %s, want %s", got, tt.want)
			}
			for _, d := range ds {
				if !column.Profiled(d.Columns) {
					t.Errorf("%s is stored without a full profile", d.Name)
				}
			}
		})
	}
	// Every sheet has a file of its own: deleting one leaves the other readable.
	two, err := s.Upload(ctx, UploadInput{FileName: "regions.xlsx", Name: "pair", Sheets: []string{"Sales", "Targets"}, File: bytes.NewReader(book)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, two[0].ID); err != nil {
		t.Fatal(err)
	}
	p, err := s.Preview(ctx, two[1], 2)
	if err != nil || len(p.Rows) != 2 || *p.Rows[0][0] != "North" {
		t.Fatalf("preview of the other sheet: %+v, %v", p, err)
	}
}

func TestProfileOfAnOlderDataset(t *testing.T) {
	s, ctx := newService(t)
	ds, err := s.Upload(ctx, UploadInput{FileName: "a.csv", File: strings.NewReader("a,b\n1,x\n2,y\n2,\n")})
	if err != nil {
		t.Fatal(err)
	}
	// As stored before profiles had statistics.
	old := []column.Profile{{Name: "a", Dtype: "int64"}, {Name: "b", Dtype: "object", NullCount: 1}}
	d := s.DB.Dataset.UpdateOneID(ds[0].ID).SetColumns(old).SaveX(ctx)
	cols, err := s.Profile(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 || *cols[0].DistinctCount != 2 || *cols[0].Max != 2 || *cols[1].DistinctCount != 2 || len(cols[1].TopValues) != 2 {
		t.Fatalf("profile %+v", cols)
	}
	if stored := s.DB.Dataset.GetX(ctx, d.ID); !column.Profiled(stored.Columns) {
		t.Fatal("the profile was not stored")
	}
}

func TestInspectStoresNothing(t *testing.T) {
	s, ctx := newService(t)
	in, err := s.Inspect(ctx, strings.NewReader("x;y\n1;2\n"), "a.csv", "")
	if err != nil || in.Delimiter != ";" || strings.Join(in.Headers, ",") != "x,y" {
		t.Fatalf("inspection %+v, %v", in, err)
	}
	entries, err := os.ReadDir(s.Store.(*LocalStore).Dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("the store holds %v (%v)", entries, err)
	}
	for _, tt := range []struct {
		file, content string
		code          errcode.Code
	}{
		{"a.csv", "", errcode.BadUserInput},
		{"a.pdf", "%PDF", errcode.BadUserInput},
		{"a.csv", "a\x00b", errcode.BadUserInput},
		{"a.csv", strings.Repeat("x", 2<<20), errcode.LimitExceeded},
	} {
		_, err := s.Inspect(ctx, strings.NewReader(tt.content), tt.file, "")
		if e, ok := errcode.As(err); !ok || e.Code != tt.code || e.Field != "file" {
			t.Errorf("inspect %s of %d bytes: %v; want %s", tt.file, len(tt.content), err, tt.code)
		}
	}
}

func TestInspectSheet(t *testing.T) {
	s, ctx := newService(t)
	book, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file, sheet, headers string
		field, want          string // of the error, when it fails
	}{
		{"r.xlsx", "", "Region,Units,Price", "", ""},
		{"r.xlsx", "Sales", "Region,Units,Price", "", ""},
		{"r.xlsx", "Targets", "region,target", "", ""},
		{"r.xlsx", "Budget", "", "sheet", `no sheet named "Budget"`},
		{"r.csv", "Sales", "", "sheet", "only Excel"},
	} {
		in, err := s.Inspect(ctx, bytes.NewReader(book), tt.file, tt.sheet)
		if tt.field != "" {
			if e, ok := errcode.As(err); !ok || e.Field != tt.field || !strings.Contains(e.Message, tt.want) {
				t.Errorf("sheet %q of %s: %v; want an error on %s saying %q", tt.sheet, tt.file, err, tt.field, tt.want)
			}
			continue
		}
		if err != nil || strings.Join(in.Headers, ",") != tt.headers || strings.Join(in.Sheets, ",") != "Sales,Targets" {
			t.Errorf("sheet %q: %+v, %v", tt.sheet, in, err)
		}
	}
}

// failingParsed is a store whose parsed forms cannot be stored.
type failingParsed struct{ *LocalStore }

func (f failingParsed) PutFile(context.Context, string, string) error {
	return errors.New("disk full")
}

// storedFiles lists the files under dir (their paths relative to it).
func storedFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestUploadStoresTheParsedForm(t *testing.T) {
	s, ctx := newService(t)
	dir := s.Store.(*LocalStore).Dir
	book, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.Upload(ctx, UploadInput{FileName: "regions.xlsx", Sheets: []string{"Sales", "Targets"}, File: bytes.NewReader(book)})
	if err != nil {
		t.Fatal(err)
	}
	// Each sheet has its file and its parsed form, and nothing else is left.
	var want []string
	for _, d := range ds {
		want = append(want, filepath.FromSlash(d.StorageKey), filepath.FromSlash(ParsedKey(d.StorageKey)))
	}
	sort.Strings(want)
	if got := storedFiles(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored %q, want %q", got, want)
	}
	files, err := s.Files(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if f.Parsed != filepath.Join(dir, filepath.FromSlash(ParsedKey(ds[i].StorageKey))) {
			t.Errorf("dataset %s: Parsed %q", ds[i].Name, f.Parsed)
		}
	}
	// Deleting a dataset removes its parsed form.
	if err := s.Delete(ctx, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	want = []string{filepath.FromSlash(ds[1].StorageKey), filepath.FromSlash(ParsedKey(ds[1].StorageKey))}
	if got := storedFiles(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after Delete: %q, want %q", got, want)
	}
	// A dataset without one (stored before, or its store failed) has none.
	if err := s.Store.Delete(ctx, ParsedKey(ds[1].StorageKey)); err != nil {
		t.Fatal(err)
	}
	if files, err := s.Files(ctx, ds[1:]); err != nil || files[0].Parsed != "" {
		t.Fatalf("files %+v, %v", files, err)
	}
}

func TestUploadWithoutItsParsedForm(t *testing.T) {
	s, ctx := newService(t)
	local := s.Store.(*LocalStore)
	s.Store = failingParsed{local}
	ds, err := s.Upload(ctx, UploadInput{FileName: "a.csv", File: strings.NewReader("a,b\n1,x\n2,y\n")})
	if err != nil {
		t.Fatalf("a parsed form that cannot be stored failed the upload: %v", err)
	}
	if got := storedFiles(t, local.Dir); len(got) != 1 || got[0] != filepath.FromSlash(ds[0].StorageKey) {
		t.Fatalf("stored %q", got)
	}
	files, err := s.Files(ctx, ds)
	if err != nil || files[0].Parsed != "" {
		t.Fatalf("files %+v, %v", files, err)
	}
}

func TestFailedUploadLeavesNoParsedForm(t *testing.T) {
	s, ctx := newService(t)
	dir := s.Store.(*LocalStore).Dir
	book, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	// The second sheet's columns are refused once the first's parsed form
	// was written.
	_, err = s.Upload(ctx, UploadInput{FileName: "regions.xlsx", Sheets: []string{"Sales", "Targets"}, Columns: []string{"Region"},
		File: bytes.NewReader(book)})
	if err == nil {
		t.Fatal("the upload succeeded")
	}
	if got := storedFiles(t, dir); len(got) != 0 {
		t.Fatalf("a failed upload left %q", got)
	}
}
