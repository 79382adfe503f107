package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestValidVariable(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"summary", true}, {"_x1", true}, {"Summary_2024", true},
		{"", false}, {"1x", false}, {"a-b", false}, {"a b", false}, {"df.head()", false},
		{"été", false}, {"class", false}, {"None", false}, {strings.Repeat("a", MaxVariableLen+1), false},
	}
	for _, tc := range tests {
		if got := ValidVariable(tc.name); got != tc.ok {
			t.Errorf("ValidVariable(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

// TestExecuteFrame runs code in a sandboxed kernel and asks for one of its
// frames: serialised inside the sandbox, neutralised for spreadsheets when
// asked, or refused with the problem that says why.
func TestExecuteFrame(t *testing.T) {
	e := shared(t)
	sales := []Dataset{{Name: "sales", Path: "testdata/sales.csv", Format: "csv"}}
	code := "summary = sales.groupby('region', as_index=False)['units'].sum()\n" +
		"summary.loc[len(summary)] = ['=1+1', 7]\nn = 3\ntotal = sales.groupby('region')['units'].sum()\n"
	tests := []struct {
		name    string
		frame   FrameRequest
		prefix  string
		problem FrameProblem
	}{
		{"csv", FrameRequest{Variable: "summary", Format: FrameCSV}, "region,units\n", ""},
		{"csv neutralised", FrameRequest{Variable: "summary", Format: FrameCSV, Neutralise: true}, "\"region\",\"units\"\n", ""},
		{"series with its index", FrameRequest{Variable: "total", Format: FrameCSV}, "region,units\n", ""},
		{"xlsx", FrameRequest{Variable: "summary", Format: FrameXLSX, Neutralise: true}, "PK\x03\x04", ""},
		{"dataset frame", FrameRequest{Variable: "df", Format: FrameCSV}, "region,product,units", ""},
		{"missing", FrameRequest{Variable: "nope", Format: FrameCSV}, "", FrameMissing},
		{"not a frame", FrameRequest{Variable: "n", Format: FrameCSV}, "", FrameNotFrame},
		{"too large", FrameRequest{Variable: "summary", Format: FrameCSV, MaxBytes: 10}, "", FrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame := tc.frame
			res, err := e.Execute(context.Background(), Request{Key: "frames", Datasets: sales, Code: code, Frame: &frame})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Frame == nil {
				t.Fatalf("result %+v", res)
			}
			if len(res.Figures)+len(res.Tables)+len(res.Files) != 0 {
				t.Errorf("outputs sent with a frame: %+v", res)
			}
			f := res.Frame
			if f.Problem != tc.problem {
				t.Fatalf("problem %q (%s), want %q", f.Problem, f.Message, tc.problem)
			}
			if tc.problem != "" {
				if f.Message == "" || len(f.Data) != 0 {
					t.Errorf("frame %+v", f)
				}
				return
			}
			if !strings.HasPrefix(string(f.Data), tc.prefix) || f.Rows == 0 || f.Columns == 0 {
				t.Errorf("frame %q (%d rows, %d columns), want it to start with %q", f.Data, f.Rows, f.Columns, tc.prefix)
			}
			if tc.frame.Format == FrameCSV && tc.frame.Variable == "summary" {
				want := "=1+1,7"
				if tc.frame.Neutralise {
					want = "\"'=1+1\",7"
				}
				if !strings.Contains(string(f.Data), want) {
					t.Errorf("csv %q has no %q", f.Data, want)
				}
			}
		})
	}
	t.Run("code fails", func(t *testing.T) {
		res, err := e.Execute(context.Background(), Request{Key: "frames", Datasets: sales, Code: "1/0",
			Frame: &FrameRequest{Variable: "x", Format: FrameCSV}})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Frame != nil || res.Error == nil || res.Error.Type != "ZeroDivisionError" {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("invalid request", func(t *testing.T) {
		for _, f := range []FrameRequest{{Variable: "a b", Format: FrameCSV}, {Variable: "x", Format: "pdf"}} {
			_, err := e.Execute(context.Background(), Request{Key: "frames", Datasets: sales, Code: "x = 1", Frame: &f})
			if !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("%+v: err %v, want ErrInvalidRequest", f, err)
			}
		}
	})
}
