package dataset

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/ent"
	entdataset "github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// dtypes returns "name:dtype" for each column of d.
func dtypes(d *ent.Dataset) string {
	out := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Name + ":" + c.Dtype
	}
	return strings.Join(out, ",")
}

// TestUploadXLS uploads a legacy Excel workbook (e2e/testdata/regions.xls,
// made by executor/testdata/make_xls.py) through the real sandbox: its sheets
// are listed and chosen as an .xlsx workbook's, its date cells are datetimes.
func TestUploadXLS(t *testing.T) {
	s, ctx := newService(t)
	book, err := os.ReadFile("../e2e/testdata/regions.xls")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Inspect(ctx, bytes.NewReader(book), "regions.xls", "Targets")
	if err != nil || strings.Join(in.Sheets, ",") != "Sales,Targets" || strings.Join(in.Headers, ",") != "region,target" ||
		len(in.Rows) != 3 || strings.Join(in.Rows[0], ",") != "North,20" {
		t.Fatalf("inspect: %+v, %v", in, err)
	}
	ds, err := s.Upload(ctx, UploadInput{FileName: "regions.xls", Sheets: []string{"Sales", "Targets"}, File: bytes.NewReader(book)})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ds); got != "sales(Sales)Region,Units,Price,Day,Open targets(Targets)region,target" {
		t.Errorf("datasets %s", got)
	}
	if got := dtypes(ds[0]); got != "Region:object,Units:int64,Price:float64,Day:datetime64[ns],Open:bool" {
		t.Errorf("columns %s", got)
	}
	if ds[0].Format != entdataset.FormatXLS || ds[0].RowCount != 3 || ds[1].RowCount != 3 {
		t.Errorf("format %s, rows %d and %d", ds[0].Format, ds[0].RowCount, ds[1].RowCount)
	}
	one, err := s.Upload(ctx, UploadInput{FileName: "REGIONS.XLS", File: bytes.NewReader(book)})
	if err != nil || len(one) != 1 || one[0].Sheet != "" || len(one[0].Columns) != 5 {
		t.Fatalf("first sheet: %+v, %v", one, err)
	}
}

// TestUploadXLSRefused: files named .xls that are no workbook, and workbooks
// under the other Excel extension, are refused as bad input saying why.
func TestUploadXLSRefused(t *testing.T) {
	s, ctx := newService(t)
	xls, err := os.ReadFile("../e2e/testdata/regions.xls")
	if err != nil {
		t.Fatal(err)
	}
	xlsx, err := os.ReadFile("../e2e/testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	broken := append([]byte{}, xls...)
	copy(broken[512:1024], bytes.Repeat([]byte{0xff}, 512)) // its FAT: every sector free
	for _, tt := range []struct {
		name, file string
		content    []byte
		want       string
	}{
		{"csv", "a.xls", []byte("a,b\n1,2\n"), "not an OLE2 compound file"},
		{"xlsx named xls", "a.xls", xlsx, "name it .xlsx"},
		{"xls named xlsx", "a.xlsx", xls, "name it .xls"},
		{"broken", "a.xls", broken, "could not be read as XLS"},
		{"sheet of a csv", "a.csv", []byte("a\n1\n"), "only Excel"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := UploadInput{FileName: tt.file, File: bytes.NewReader(tt.content)}
			if tt.name == "sheet of a csv" {
				in.Sheets = []string{"Sales"}
			}
			_, err := s.Upload(ctx, in)
			if e, ok := errcode.As(err); !ok || e.Code != errcode.BadUserInput || !strings.Contains(e.Message, tt.want) {
				t.Errorf("upload: %v; want bad input saying %q", err, tt.want)
			}
		})
	}
}

// TestUploadISODates: a CSV column of ISO 8601 dates is stored as datetime64.
func TestUploadISODates(t *testing.T) {
	s, ctx := newService(t)
	csv := "d,when,note\n2024-01-03,2024-01-03T10:30:00,a\n2024-02-29,2024-02-29 11:00:00,2024-01-01\n,,b\n"
	ds, err := s.Upload(ctx, UploadInput{FileName: "dates.csv", File: strings.NewReader(csv)})
	if err != nil {
		t.Fatal(err)
	}
	if got := dtypes(ds[0]); got != "d:datetime64[ns],when:datetime64[ns],note:object" {
		t.Errorf("columns %s", got)
	}
}
