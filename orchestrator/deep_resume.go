package orchestrator

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
)

// resume restores into d what an earlier, interrupted attempt of the run
// stored in its report, and returns the steps that need not run again:
//
//   - the research questions and the plan, once stored;
//   - the agents and the code synthesis together, once the synthesized
//     script is stored (the agents' code itself is not kept: it only feeds
//     the synthesis), with the agents' summaries;
//   - the synthesis, once stored.
//
// The execution always runs again (it calls no model, and the next steps
// want its output), and so does the conclusion, whose parts the report keeps
// only as one text.
func resume(d *deepRun, rep *ent.DeepAnalysisReport) map[string]bool {
	done := func(step string) bool { return slices.Contains(rep.StepsCompleted, step) }
	skip := map[string]bool{}
	if !done("questions") || len(rep.DeepQuestions) == 0 {
		return skip
	}
	d.questions, skip["questions"] = rep.DeepQuestions, true
	var plan Plan
	if !done("planning") || json.Unmarshal([]byte(rep.DeepPlan), &plan) != nil || len(plan.Steps) == 0 {
		return skip
	}
	d.plan, skip["planning"] = &plan, true
	if !done("code_synthesis") || strings.TrimSpace(rep.AnalysisCode) == "" {
		return skip
	}
	for _, s := range rep.Summaries {
		agent, summary, _ := strings.Cut(s, ": ")
		d.outs = append(d.outs, agentOutput{agent: agent, summary: summary})
	}
	d.code, skip["agents"], skip["code_synthesis"] = rep.AnalysisCode, true, true
	if done("synthesis") && rep.Synthesis != "" {
		d.synthesis, skip["synthesis"] = rep.Synthesis, true
	}
	return skip
}
