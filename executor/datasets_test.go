package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/column"
)

// writeFile writes content to a file in a test directory and returns its path.
func writeFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// latin1 encodes s (runes below 256) as ISO-8859-1.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

func TestInspect(t *testing.T) {
	e := shared(t)
	tests := []struct {
		name      string
		ds        Dataset
		sheets    []string
		encoding  string
		delimiter string
		headers   []string
		row0      []string
		rows      int
	}{
		{"csv", Dataset{Path: "testdata/sales.csv", Format: "csv"}, []string{}, "utf-8", ",",
			[]string{"region", "product", "units", "price", "date"}, []string{"North", "Widget", "10", "2.5", "2024-01-03"}, 6},
		{"latin-1 with semicolons", Dataset{Path: writeFile(t, "l1.csv", latin1(" Ville ;Pays;\nMünchen;Allemagne;\n;;\nQuébec;Canada;\n")), Format: "csv"},
			[]string{}, "latin-1", ";", []string{"Ville", "Pays"}, []string{"München", "Allemagne"}, 2},
		{"xlsx", Dataset{Path: "testdata/sales.xlsx", Format: "xlsx"}, []string{"Sales", "Targets"}, "", "",
			[]string{"region", "product", "units", "price", "date"}, nil, 6},
		{"xlsx sheet", Dataset{Path: "testdata/sales.xlsx", Format: "xlsx", Sheet: "Targets"}, []string{"Sales", "Targets"}, "", "",
			[]string{"region", "target"}, nil, 4},
		{"xls", Dataset{Path: "testdata/sales.xls", Format: "xls"}, []string{"Sales", "Targets"}, "", "",
			[]string{"region", "product", "units", "price", "date"}, []string{"North", "Widget", "10", "2.5", "2024-01-03T00:00:00"}, 6},
		{"xls sheet", Dataset{Path: "testdata/sales.xls", Format: "xls", Sheet: "Targets"}, []string{"Sales", "Targets"}, "", "",
			[]string{"region", "target"}, []string{"North", "25"}, 4},
		{"json", Dataset{Path: "testdata/customers.json", Format: "json"}, []string{}, "utf-8", "",
			[]string{"id", "name", "region"}, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := e.Inspect(context.Background(), tt.ds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in.Sheets, tt.sheets) || in.Encoding != tt.encoding || in.Delimiter != tt.delimiter {
				t.Errorf("sheets %q encoding %q delimiter %q", in.Sheets, in.Encoding, in.Delimiter)
			}
			if !reflect.DeepEqual(in.Headers, tt.headers) || len(in.Rows) != tt.rows {
				t.Errorf("headers %q, %d rows: %q", in.Headers, len(in.Rows), in.Rows)
			}
			if tt.row0 != nil && (len(in.Rows) == 0 || !reflect.DeepEqual(in.Rows[0], tt.row0)) {
				t.Errorf("first row %q, want %q", in.Rows, tt.row0)
			}
		})
	}
}

func TestInspectRefusesGarbage(t *testing.T) {
	e := shared(t)
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + i/3)
	}
	for _, tt := range []struct {
		name string
		ds   Dataset
		want string
	}{
		{"binary csv", Dataset{Path: writeFile(t, "g.csv", garbage), Format: "csv"}, "binary"},
		{"empty csv", Dataset{Path: writeFile(t, "e.csv", []byte("\n\n")), Format: "csv"}, "EmptyDataError"},
		{"zip that is no workbook", Dataset{Path: writeFile(t, "z.xlsx", []byte("PK\x03\x04garbage")), Format: "xlsx"}, ""},
		{"xls that is no OLE2 file", Dataset{Path: writeFile(t, "n.xls", []byte("a,b\n1,2\n")), Format: "xls"}, "not an Excel .xls file"},
		{"OLE2 file that is no workbook", Dataset{Path: writeFile(t, "o.xls", append([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), garbage...)), Format: "xls"},
			"not a readable Excel .xls file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Inspect(context.Background(), tt.ds)
			var perr *Error
			if !errors.Is(err, ErrDatasetLoad) || !errors.As(err, &perr) || !strings.Contains(perr.Error(), tt.want) {
				t.Fatalf("Inspect: %v; want ErrDatasetLoad with a Python error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestProfileStatistics(t *testing.T) {
	e := shared(t)
	p, err := e.Profile(context.Background(), Dataset{Path: "testdata/sales.csv", Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]column.Profile{}
	for _, c := range p.Columns {
		byName[c.Name] = c
	}
	units := byName["units"]
	if units.DistinctCount == nil || *units.DistinctCount != 5 || units.Min == nil || *units.Min != 3 || units.Max == nil || *units.Max != 12 || units.TopValues != nil {
		t.Errorf("units: %+v", units)
	}
	region := byName["region"]
	if region.DistinctCount == nil || *region.DistinctCount != 4 || region.Min != nil || len(region.TopValues) != 4 ||
		region.TopValues[0].Count != 2 || region.TopValues[3].Count != 1 {
		t.Errorf("region: %+v", region)
	}
}

func TestPreview(t *testing.T) {
	e := shared(t)
	// Padded headers, an empty row and an empty column are cleaned away as
	// when a kernel loads the file, and the integers the empty row made
	// float are integers again.
	path := writeFile(t, "p.csv", []byte(" a , b ,c\n1,x,\n,,\n2,,\n3,z,\n"))
	p, err := e.Preview(context.Background(), Dataset{Path: path, Format: "csv"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Columns, []string{"a", "b"}) || len(p.Rows) != 2 {
		t.Fatalf("preview %+v", p)
	}
	if *p.Rows[0][0] != "1" || *p.Rows[0][1] != "x" || *p.Rows[1][0] != "2" || p.Rows[1][1] != nil {
		t.Fatalf("rows %v", p.Rows)
	}
	if out := runOK(t, e, "cleaned", []Dataset{{Name: "p", Path: path, Format: "csv"}}, "print(p.shape, list(p.columns))"); out != "(3, 2) ['a', 'b']\n" {
		t.Fatalf("the kernel loads %q", out)
	}
	// Headers that are the same once trimmed stay apart.
	dup, err := e.Preview(context.Background(), Dataset{Path: writeFile(t, "d.csv", []byte("a, a,\n1,2,3\n")), Format: "csv"}, 1)
	if err != nil || !reflect.DeepEqual(dup.Columns, []string{"a", "a_2", "Unnamed: 2"}) {
		t.Fatalf("preview of repeated headers: %+v, %v", dup, err)
	}
	if _, err := e.Preview(context.Background(), Dataset{Path: path, Format: "csv"}, 0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("a preview of 0 rows: %v", err)
	}
}
