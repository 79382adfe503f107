package orchestrator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/executor"
)

// TestEncodeResult: a result is stored as the executor gave it (figures
// unescaped), read back the same, and its figures, images and tables are
// left out, saying so, when they exceed the bound.
func TestEncodeResult(t *testing.T) {
	res := &Result{
		OK: false, Stdout: "a\x00b\n", Stderr: "warn",
		Error:    &ExecError{Type: "KeyError", Message: "'x'", Line: 2, Agent: "data_viz_agent", Traceback: "Traceback …"},
		Figures:  []json.RawMessage{json.RawMessage(`{"data":[{"type":"bar","hovertemplate":"<b>%{x}</b><br>"}],"layout":{}}`)},
		Images:   []string{"iVBORw0KGgo="},
		Tables:   []Table{{Columns: []string{"a", "b"}, Rows: [][]any{{1.5, "x"}, {nil, true}}, Truncated: true}},
		Duration: 1500 * time.Millisecond,
	}
	stored := EncodeResult(res, 0)
	if !strings.Contains(stored, `<b>%{x}</b><br>`) {
		t.Fatalf("figure stored escaped: %s", stored)
	}
	got, err := DecodeResult(stored)
	if err != nil || !reflect.DeepEqual(got, res) {
		t.Fatalf("read back %+v (%v), want %+v", got, err, res)
	}
	if got, err := DecodeResult(""); got != nil || err != nil {
		t.Fatalf("nothing stored: %+v %v", got, err)
	}
	if _, err := DecodeResult("{"); err == nil {
		t.Fatal("an unreadable result decoded")
	}

	// Over the bound: stdout, stderr and the error stay; the rest is left out.
	got, err = DecodeResult(EncodeResult(res, 64))
	if err != nil || got.Stdout != res.Stdout || got.Error == nil || got.Error.Type != "KeyError" ||
		len(got.Figures) != 0 || got.Images != nil || got.Tables != nil ||
		!strings.HasPrefix(got.Stderr, "warn\n[the figures, images and tables (") || !strings.Contains(got.Stderr, "EXEC_MAX_RESULT_BYTES (64)") {
		t.Fatalf("over the bound: %+v (%v)", got, err)
	}
	// A figure that is not JSON is left out too, not the result.
	bad := *res
	bad.Figures = []json.RawMessage{json.RawMessage(`{`)}
	got, err = DecodeResult(EncodeResult(&bad, 0))
	if err != nil || got.Stdout != res.Stdout || len(got.Figures) != 0 || !strings.Contains(got.Stderr, "could not be stored") {
		t.Fatalf("unencodable figure: %+v (%v)", got, err)
	}
}

// TestResultMirrorsExecutor: Result, ExecError and Table have the fields and
// JSON names of the executor's types, so that a result reads back whole and
// resultOf copies all of it.
func TestResultMirrorsExecutor(t *testing.T) {
	for _, c := range []struct{ ours, theirs any }{
		{Result{}, executor.Result{}}, {ExecError{}, executor.Error{}}, {Table{}, executor.Table{}},
	} {
		o, e := reflect.TypeOf(c.ours), reflect.TypeOf(c.theirs)
		// A frame asked for by saveAsDataset or exportFrame is read by
		// frames.go and never stored with a run's result.
		var theirs []reflect.StructField
		for i := range e.NumField() {
			if f := e.Field(i); !(e == reflect.TypeOf(executor.Result{}) && f.Name == "Frame") {
				theirs = append(theirs, f)
			}
		}
		if o.NumField() != len(theirs) {
			t.Fatalf("%s has %d fields, %s %d", o, o.NumField(), e, len(theirs))
		}
		for i := range o.NumField() {
			of, ef := o.Field(i), theirs[i]
			if of.Name != ef.Name || of.Tag.Get("json") != ef.Tag.Get("json") {
				t.Errorf("%s.%s (%s) differs from %s.%s (%s)", o, of.Name, of.Tag, e, ef.Name, ef.Tag)
			}
		}
	}
	res := &executor.Result{OK: true, Stdout: "x", Stderr: "y", Error: &executor.Error{Type: "E", Line: 3},
		Figures: []json.RawMessage{json.RawMessage(`{}`)}, Images: []string{"i"},
		Tables: []executor.Table{{Columns: []string{"a"}, Rows: [][]any{{1.0}}}}, Duration: time.Second}
	want, _ := json.Marshal(res)
	if got, _ := json.Marshal(resultOf(res)); string(got) != string(want) {
		t.Errorf("resultOf encodes as %s, want %s", got, want)
	}
}
