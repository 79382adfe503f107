package orchestrator

import (
	"fmt"
	"sort"
	"testing"

	"github.com/autoanalyst/autoanalyst/ent"
)

// TestDeepResume checks what a taken-over deep analysis keeps of the report
// an interrupted attempt stored.
func TestDeepResume(t *testing.T) {
	plan := `{"complexity":"deep","steps":[{"agent":"data_viz_agent","instruction":"chart","create":[],"use":[]}]}`
	full := func() *ent.DeepAnalysisReport {
		return &ent.DeepAnalysisReport{
			StepsCompleted: []string{"questions", "planning", "agents", "code_synthesis", "execution", "synthesis"},
			DeepQuestions:  []string{"Which city is dearest?"},
			DeepPlan:       plan,
			Summaries:      []string{"data_viz_agent: A bar chart: Nice is dearest."},
			AnalysisCode:   "fig = px.bar(df)\nfig.show()",
			Synthesis:      "Nice is dearest.",
		}
	}
	for _, tc := range []struct {
		name string
		edit func(r *ent.DeepAnalysisReport)
		want string
	}{
		{"nothing stored", func(r *ent.DeepAnalysisReport) { r.StepsCompleted = nil }, "[]"},
		{"questions only", func(r *ent.DeepAnalysisReport) { r.StepsCompleted = r.StepsCompleted[:1] }, "[questions]"},
		{"agents without the synthesized script", func(r *ent.DeepAnalysisReport) { r.StepsCompleted = r.StepsCompleted[:3] }, "[planning questions]"},
		{"a plan that does not read", func(r *ent.DeepAnalysisReport) { r.DeepPlan = "{" }, "[questions]"},
		{"through the execution", func(r *ent.DeepAnalysisReport) { r.StepsCompleted = r.StepsCompleted[:5] }, "[agents code_synthesis planning questions]"},
		{"through the synthesis", func(*ent.DeepAnalysisReport) {}, "[agents code_synthesis planning questions synthesis]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := full()
			tc.edit(rep)
			d := &deepRun{}
			var got []string
			for step := range resume(d, rep) {
				got = append(got, step)
			}
			sort.Strings(got)
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("kept %v, want %s", got, tc.want)
			}
			if len(got) >= 4 && (d.code != rep.AnalysisCode || len(d.outs) != 1 || d.outs[0].agent != "data_viz_agent" ||
				d.outs[0].summary != "A bar chart: Nice is dearest." || d.plan.Steps[0].Agent != "data_viz_agent") {
				t.Fatalf("restored %+v", d)
			}
		})
	}
}
