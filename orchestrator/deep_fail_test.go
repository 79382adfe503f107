package orchestrator

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/ent/deepanalysisreport"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// deepScript answers every prompt of a deep analysis.
func deepScript(req llm.Request) (string, error) {
	fence := func(code, summary string) string { return "```python\n" + code + "\n```\n" + summary }
	prompt := req.Messages[len(req.Messages)-1].Content
	switch {
	case strings.Contains(prompt, "You write the research questions of a deep analysis"):
		return "1. Which city is dearest?", nil
	case strings.Contains(prompt, "You are the planner of a deep analysis"):
		return `{"plan": ["statistical_analytics_agent"], "instructions": {"statistical_analytics_agent": ` +
			`{"create": ["means"], "use": ["df"], "instruction": "mean price per city"}}}`, nil
	case strings.Contains(prompt, "You are statistical_analytics_agent"):
		return fence("means = df.groupby('city')['price'].mean()", "Mean price per city."), nil
	case strings.Contains(prompt, "You combine the code of several data analysis agents"):
		return fence("print(df.groupby('City')['price'].mean())", ""), nil
	case strings.Contains(prompt, "You repair a deep-analysis script"):
		// A new script each time, failing as long as the executor says.
		return fence("print(df.groupby('city')['price'].mean())  # try "+time.Now().String(), ""), nil
	case strings.Contains(prompt, "You synthesise the findings of a deep analysis"):
		return "Nice is the dearest city.", nil
	case strings.Contains(prompt, "You write the conclusion of a deep analysis"):
		return "Conclusion:\nNice is dearest.\n\nKey takeaways:\n- Nice costs most\n\nNext steps:\n- More data", nil
	}
	return "Done.", nil
}

// failingExecutor fails every execution (ok: runs every one) and counts them.
type failingExecutor struct {
	ok bool
	mu sync.Mutex
	n  int
}

func (e *failingExecutor) Execute(context.Context, executor.Request) (*executor.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.ok {
		return &executor.Result{OK: true, Stdout: "Nice 300\n", Figures: []json.RawMessage{json.RawMessage(`{"data": []}`)}}, nil
	}
	return &executor.Result{Error: &executor.Error{Type: "KeyError", Message: "'City'", Line: 1}}, nil
}

// TestDeepAnalysisSynthesisFails: a deep analysis whose synthesized script
// fails in every try fails (EXECUTION_ERROR, its report FAILED, saying so)
// rather than completing a report on findings no code produced; one whose
// script runs completes.
func TestDeepAnalysisSynthesisFails(t *testing.T) {
	tests := []struct {
		name       string
		ok         bool
		wantRun    run.Status
		wantReport deepanalysisreport.Status
		wantText   string // in the report's error message
		wantRuns   int    // executions
	}{
		{"every try fails", false, run.StatusFAILED, deepanalysisreport.StatusFAILED, "ran in none of 5 tries", maxSynthesisTries},
		{"the script runs", true, run.StatusSUCCEEDED, deepanalysisreport.StatusCOMPLETED, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t, false)
			ctx := context.Background()
			brk := memory.New()
			t.Cleanup(func() { brk.Close() })
			exe := &failingExecutor{ok: tt.ok}
			p := llm.NewScriptedFunc(deepScript)
			s, err := New(Config{
				DB: db, Broker: brk, Files: noFiles{}, Logger: zerolog.Nop(), Executor: exe,
				Models: modelsFunc(func(context.Context, string) (*modelsetting.Choice, error) {
					return &modelsetting.Choice{Provider: p, Model: "gpt-4o-mini"}, nil
				}),
			})
			if err != nil {
				t.Fatal(err)
			}
			alice, err := db.User.Create().Save(system(ctx))
			if err != nil {
				t.Fatal(err)
			}
			actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
			c, err := db.Chat.Create().SetUserID(alice.ID).Save(actx)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.StartDeepAnalysis(actx, c.ID, "Which city is dearest?")
			if err != nil {
				t.Fatal(err)
			}
			w := s.StartWorkers(1)
			defer w.Stop(ctx)
			s.waitEnd(actx, r.ID, 20*time.Second)
			rr, _ := db.Run.Get(actx, r.ID)
			rep, err := db.DeepAnalysisReport.Query().Where(deepanalysisreport.RunID(r.ID)).Only(actx)
			if err != nil {
				t.Fatal(err)
			}
			if rr.Status != tt.wantRun || rep.Status != tt.wantReport {
				t.Fatalf("run %s (%v), report %s; want %s, %s", rr.Status, rr.Error, rep.Status, tt.wantRun, tt.wantReport)
			}
			if tt.wantText != "" && (rep.ErrorMessage == nil || !strings.Contains(*rep.ErrorMessage, tt.wantText) ||
				rr.Error == nil || !strings.Contains(*rr.Error, tt.wantText)) {
				t.Fatalf("run error %v, report error %v; want %q", rr.Error, rep.ErrorMessage, tt.wantText)
			}
			if exe.n != tt.wantRuns {
				t.Fatalf("%d executions, want %d", exe.n, tt.wantRuns)
			}
		})
	}
}
