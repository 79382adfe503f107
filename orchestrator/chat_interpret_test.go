package orchestrator

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/executor"
)

// TestUngroundedNumbers: the numbers of an answer that its outputs do not
// hold are flagged; rounding, percentages, thousands separators, list
// numbers and the question's own numbers are not.
func TestUngroundedNumbers(t *testing.T) {
	outputs := "Printed output:\nLyon 225.4999\nNice 300.0\nshare 0.125\ntotal 12345\n"
	for _, tc := range []struct {
		name, answer string
		want         []string
	}{
		{"all grounded", "Nice is the most expensive (300), Lyon 225.5.", nil},
		{"rounded to an integer", "Lyon averages 225.", nil},
		{"a percentage of a share", "That is 12.5% of the houses.", nil},
		{"thousands separator", "In all 12,345 houses.", nil},
		{"invented", "Paris averages 180 and Nice 300.", []string{"180"}},
		{"invented once each", "42 here, 42 there, 7.5 too.", []string{"42", "7.5"}},
		{"a list's numbers", "1. Nice\n2. Lyon", nil},
		{"names are not numbers", "df2 and x_3 hold them.", nil},
		{"the question's numbers", "The top 5 cities are shown.", nil},
		{"wrong precision", "Lyon averages 225.6.", []string{"225.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ungroundedNumbers(tc.answer, outputs, "Which are the top 5 cities?")
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ungroundedNumbers(%q) = %q, want %q", tc.answer, got, tc.want)
			}
		})
	}
}

// TestSummarizeFigure: a Plotly figure is described by its titles and
// traces, lists and typed arrays alike, never by its values.
func TestSummarizeFigure(t *testing.T) {
	for _, tc := range []struct {
		name, fig, want string
	}{
		{"titles as objects, a list",
			`{"data":[{"type":"bar","name":"price","x":["a","b","c"],"y":[1,2,3]}],"layout":{"title":{"text":"Mean price"},"xaxis":{"title":{"text":"city"}},"yaxis":{"title":"price"}}}`,
			`title "Mean price", x axis "city", y axis "price", 1 trace(s): bar "price" of 3 points`},
		{"a typed array, the default type",
			`{"data":[{"x":{"dtype":"f8","bdata":"AAAAAAAA8D8AAAAAAAAAQA=="}}],"layout":{}}`,
			`1 trace(s): scatter of 2 points`},
		{"a pie", `{"data":[{"type":"pie","values":[1,2,3,4]}]}`, `1 trace(s): pie of 4 points`},
		{"unreadable", `not json`, `(unreadable)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarizeFigure(json.RawMessage(tc.fig)); got != tc.want {
				t.Fatalf("summarizeFigure = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDescribeOutputs: the interpreter sees the error, stdout within its
// budget, tables and figure summaries.
func TestDescribeOutputs(t *testing.T) {
	long := strings.Repeat("x", interpretStdoutChars) + "THE END"
	for _, tc := range []struct {
		name     string
		res      *executor.Result
		contains []string
	}{
		{"a failure", &executor.Result{Error: &executor.Error{Type: "KeyError", Message: "'Price'"}},
			[]string{"The code failed: KeyError: 'Price'", "Printed output: (none)"}},
		{"a table and a figure", &executor.Result{OK: true, Stdout: "cities: 3\n",
			Tables:  []executor.Table{{Columns: []string{"city", "price"}, Rows: [][]any{{"Lyon", 225.0}, {"Nice", nil}}}},
			Figures: []json.RawMessage{json.RawMessage(`{"data":[{"type":"bar","y":[1]}]}`)}},
			[]string{"cities: 3", "city | price\nLyon | 225\nNice | (missing)", "Chart 1: 1 trace(s): bar of 1 points"}},
		{"a long output keeps its end", &executor.Result{OK: true, Stdout: long},
			[]string{"[... output cut ...]", "THE END"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describeOutputs(tc.res)
			for _, want := range tc.contains {
				if !strings.Contains(got, want) {
					t.Fatalf("describeOutputs lacks %q:\n%s", want, got)
				}
			}
		})
	}
}

// TestParseFollowUps: a JSON list, fenced or not, or one question a line,
// at most three, distinct and bounded.
func TestParseFollowUps(t *testing.T) {
	long := strings.Repeat("a", 300) + "?"
	for _, tc := range []struct {
		name, answer string
		want         []string
	}{
		{"a JSON list", `["Which city?", "How many rows?"]`, []string{"Which city?", "How many rows?"}},
		{"in a fence", "```json\n[\"Which city?\"]\n```", []string{"Which city?"}},
		{"lines with numbers and bullets", "1. Which city?\n- How many rows?\n\n* Why?\n4) More?", []string{"Which city?", "How many rows?", "Why?"}},
		{"duplicates", `["Which city?", "which city?", "Why?"]`, []string{"Which city?", "Why?"}},
		{"too long", `["` + long + `"]`, []string{long[:followUpChars] + "..."}},
		{"nothing", "  \n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseFollowUps(tc.answer); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseFollowUps = %q, want %q", got, tc.want)
			}
		})
	}
}
