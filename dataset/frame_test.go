package dataset

import (
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/errcode"
)

// TestSaveFrame stores frames' CSV as datasets the way uploads are: named,
// deduplicated, profiled in the sandbox, refused over the limits.
func TestSaveFrame(t *testing.T) {
	s, ctx := newService(t)
	summary := []byte("city,price\nLyon,250000.0\nParis,400000.0\n")
	wide := []byte(strings.Repeat("c,", 1200) + "c\n")
	tests := []struct {
		name     string
		in       FrameInput
		wantName string
		rows     int64
		code     errcode.Code
		field    string
	}{
		{"variable name", FrameInput{CSV: summary, Variable: "summary", RunID: "run_1"}, "summary", 2, "", ""},
		{"deduplicated", FrameInput{CSV: summary, Variable: "summary", RunID: "run_1"}, "summary_2", 2, "", ""},
		{"name given", FrameInput{CSV: summary, Variable: "summary", Name: "City prices 2024"}, "city_prices_2024", 2, "", ""},
		{"reserved name", FrameInput{CSV: summary, Variable: "df"}, "df_data", 2, "", ""},
		{"name too long", FrameInput{CSV: summary, Variable: "s", Name: strings.Repeat("n", 256)}, "", 0, errcode.BadUserInput, "name"},
		{"too many columns", FrameInput{CSV: wide, Variable: "wide"}, "", 0, errcode.BadUserInput, "file"},
		{"over the upload limit", FrameInput{CSV: []byte("a\n" + strings.Repeat("1\n", 1<<20)), Variable: "big"}, "", 0, errcode.LimitExceeded, "file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := s.SaveFrame(ctx, tc.in)
			if tc.code != "" {
				e, ok := errcode.As(err)
				if !ok || e.Code != tc.code || e.Field != tc.field {
					t.Fatalf("err %v, want %s on %s", err, tc.code, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != tc.wantName || d.RowCount != tc.rows || len(d.Columns) != 2 || d.FileName != tc.in.Variable+".csv" {
				t.Errorf("dataset %s (%s) rows %d columns %v", d.Name, d.FileName, d.RowCount, d.Columns)
			}
			if d.Columns[1].Name != "price" || d.Columns[1].Dtype != "float64" || d.Columns[1].Max == nil || *d.Columns[1].Max != 400000 {
				t.Errorf("price profile %+v", d.Columns[1])
			}
			if !strings.Contains(d.Description, tc.in.Variable) {
				t.Errorf("description %q", d.Description)
			}
		})
	}
}
