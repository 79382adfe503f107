package resolvers

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/graph/model"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// TestRunEventTypes: events decode into the schema's enums and typed
// outputs, and values the enums lack map to safe ones.
func TestRunEventTypes(t *testing.T) {
	ev := func(e orchestrator.Event) *model.RunEvent {
		t.Helper()
		e.Seq, e.Type, e.At = 1, "X", time.Now()
		return toRunEvent(&e)
	}
	for code, want := range map[string]string{"": "", "EXECUTION_ERROR": "EXECUTION_ERROR", "SOMETHING_NEW": "INTERNAL"} {
		got := ""
		if c := ev(orchestrator.Event{ErrorCode: code}).ErrorCode; c != nil {
			got = c.String()
		}
		if got != want {
			t.Errorf("errorCode %q -> %s, want %s", code, got, want)
		}
	}
	for c, want := range map[string]model.PlanComplexity{"basic": "BASIC", "direct": "DIRECT", "deep": "DEEP", "galactic": "INTERMEDIATE"} {
		p := ev(orchestrator.Event{Plan: &orchestrator.Plan{Complexity: c, Steps: []orchestrator.PlanStep{{Agent: "a"}}}}).Plan
		if p.Complexity != want || len(p.Steps) != 1 || p.Steps[0].Agent != "a" {
			t.Errorf("complexity %q -> %+v, want %s", c, p, want)
		}
	}
	res := ev(orchestrator.Event{Result: &orchestrator.Result{OK: true,
		Figures: []json.RawMessage{json.RawMessage(`{"data":[],"layout":{}}`)},
		Tables:  []orchestrator.Table{{Columns: []string{"city", "price"}, Rows: [][]any{{"Paris", 100.0}, {"Nice", nil}}}}}}).Result
	if len(res.Figures) != 1 || string(res.Figures[0]) != `{"data":[],"layout":{}}` || len(res.Tables) != 1 ||
		len(res.Tables[0].Rows) != 2 || res.Tables[0].Rows[0][1] != 100.0 || res.Tables[0].Rows[1][1] != nil || len(res.Images) != 0 {
		t.Errorf("result = %+v", res)
	}
}

func TestDeepPlan(t *testing.T) {
	r := &Resolver{Logger: zerolog.Nop()}
	for stored, want := range map[string]string{
		"":        "<nil>",
		"{broken": "<nil>",
		`{"complexity":"deep","steps":[{"agent":"data_viz_agent","instruction":"chart","create":["fig"],"use":["df"]}]}`: "DEEP data_viz_agent chart [fig] [df]",
	} {
		got := "<nil>"
		if p := r.deepPlan(&ent.DeepAnalysisReport{DeepPlan: stored}); p != nil {
			s := p.Steps[0]
			got = fmt.Sprint(p.Complexity, " ", s.Agent, " ", s.Instruction, " ", s.Create, " ", s.Use)
		}
		if got != want {
			t.Errorf("deepPlan(%q) = %s, want %s", stored, got, want)
		}
	}
}
