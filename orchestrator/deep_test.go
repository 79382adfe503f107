package orchestrator

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/deepanalysisreport"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// TestPromptsDeepGolden renders every deep-analysis prompt with the data its
// step gives it and compares the text with its golden file.
func TestPromptsDeepGolden(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	datasets := "- df (housing, 545 rows): price int64, area int64, bedrooms int64, furnishingstatus object"
	goal := "What drives house prices?"
	questions := "1. How does price relate to area?\n2. Do furnished houses cost more?"
	for _, tc := range []struct {
		name string
		tpl  *template.Template
		data map[string]any
	}{
		{"deep_questions", p.deep.questions, map[string]any{"Goal": goal, "Datasets": datasets}},
		{"deep_plan", p.deep.plan, map[string]any{
			"Agents": p.plannerAgents(), "Datasets": datasets, "Goal": goal, "Questions": questions,
		}},
		{"deep_plan_fix", p.deep.planFix, map[string]any{
			"Agents": p.plannerAgents(), "Plan": `{"plan": ["stats_agent"]}`, "Error": `the plan names an unknown agent "stats_agent"`,
		}},
		{"deep_code_synthesis", p.deep.codeSynthesis, map[string]any{
			"Datasets": datasets, "Goal": goal, "Questions": questions,
			"Code": "# statistical_analytics_agent code start\nprint(df[['price', 'area']].corr())\n# statistical_analytics_agent code end",
		}},
		{"deep_code_fix", p.deep.codeFix, map[string]any{
			"Datasets": datasets, "Goal": goal, "Code": "fig = px.scatter(df, x='Area', y='price')\nfig.show()",
			"Problem": "ValueError: Value of 'x' is not the name of a column in 'data_frame'. (line 1)", "Attempt": 1, "MaxAttempts": 5,
		}},
		{"deep_synthesis", p.deep.synthesis, map[string]any{
			"Goal": goal, "Questions": questions,
			"Summaries": "- statistical_analytics_agent: Correlates price with area.\n- data_viz_agent: Charts price by furnishing.",
			"Output":    "corr price area: 0.54\nmean price furnished: 5495696", "Figures": 2,
		}},
		{"deep_synthesis_no_figures", p.deep.synthesis, map[string]any{
			"Goal": goal, "Questions": questions, "Summaries": "- statistical_analytics_agent: Correlates price with area.",
			"Output": "(nothing was printed)", "Figures": 0,
		}},
		{"deep_conclusion", p.deep.conclusion, map[string]any{
			"Goal": goal, "Questions": questions, "Synthesis": "Price grows with area (r = 0.54).\n\n- Furnished houses cost 28% more",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(tc.tpl, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "prompt_"+tc.name, got)
		})
	}
}

func TestDeepParseQuestions(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"numbered", "1. How does price relate to area?\n2) Do furnished houses cost more?\n", []string{"How does price relate to area?", "Do furnished houses cost more?"}},
		{"heading and bullets", "Research questions:\n\n- **Which city is dearest?**\n* Is area skewed?", []string{"Which city is dearest?", "Is area skewed?"}},
		{"at most five", "1. a\n2. b\n3. c\n4. d\n5. e\n6. f", []string{"a", "b", "c", "d", "e"}},
		{"fences skipped", "```\n1. a\n```", []string{"a"}},
		{"empty", "\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseQuestions(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseQuestions(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDeepParseConclusion(t *testing.T) {
	tests := []struct {
		name, in        string
		body            string
		takeaways, next []string
	}{
		{"three sections", "Conclusion:\nArea drives price.\n\nKey takeaways:\n- Area matters\n- Furnishing adds 28%\n\nNext steps:\n1. Add 2025 data",
			"Area drives price.", []string{"Area matters", "Furnishing adds 28%"}, []string{"Add 2025 data"}},
		{"markdown headings", "## Conclusion\nArea drives price.\n**Key Takeaways:**\n* Area matters\n### Next steps\n- More data",
			"Area drives price.", []string{"Area matters"}, []string{"More data"}},
		{"no headings", "Area drives price.\nThat is all.", "Area drives price.\nThat is all.", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseConclusion(tt.in)
			if c.body != tt.body || !reflect.DeepEqual(c.takeaways, tt.takeaways) || !reflect.DeepEqual(c.nextSteps, tt.next) {
				t.Errorf("parseConclusion = body %q, takeaways %q, next %q", c.body, c.takeaways, c.nextSteps)
			}
			if c.text == "" {
				t.Error("the whole text was not kept")
			}
		})
	}
}

func TestDeepScoreResult(t *testing.T) {
	fig := []json.RawMessage{json.RawMessage(`{"data": []}`)}
	tests := []struct {
		name string
		res  *executor.Result
		want int
	}{
		{"no result", nil, 0},
		{"error", &executor.Result{OK: false, Figures: fig}, 0},
		{"runs without figures", &executor.Result{OK: true}, 1},
		{"runs with figures", &executor.Result{OK: true, Figures: fig}, 2},
	}
	for _, tt := range tests {
		if got := scoreResult(tt.res); got != tt.want {
			t.Errorf("%s: score %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDeepStepsProgress(t *testing.T) {
	s := &Service{}
	steps := s.deepSteps()
	if len(steps) != 7 {
		t.Fatalf("%d steps, want the original's 7", len(steps))
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].progress <= steps[i-1].progress || steps[i].progress >= 100 {
			t.Errorf("step %s starts at %d%% after %d%%", steps[i].name, steps[i].progress, steps[i-1].progress)
		}
	}
}

// noFiles stands in for the dataset store of chats without datasets.
type noFiles struct{}

func (noFiles) Files(context.Context, []*ent.Dataset) ([]executor.Dataset, error) { return nil, nil }

// TestDeepReportLifecycle: the report exists from the start, linked to its
// run and chat, and ends FAILED when the run is cancelled before it started
// or fails before the HTML exists; bad input is refused on its field.
func TestDeepReportLifecycle(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	s, err := New(Config{
		DB: db, Broker: brk, Files: noFiles{}, Logger: zerolog.Nop(),
		Models: modelsFunc(func(context.Context, string) (*modelsetting.Choice, error) { return nil, llm.ErrNotConfigured }),
	})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	bob, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
	bctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: bob.ID})
	c, err := db.Chat.Create().SetUserID(alice.ID).Save(actx)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name        string
		ctx         context.Context
		goal, field string
		code        errcode.Code
	}{
		{"empty goal", actx, "  ", "goal", errcode.BadUserInput},
		{"long goal", actx, strings.Repeat("é", MaxDeepGoalChars+1), "goal", errcode.BadUserInput},
		{"another user's chat", bctx, "mine", "chatID", errcode.NotFound},
	} {
		_, err := s.StartDeepAnalysis(tc.ctx, c.ID, tc.goal)
		if e, ok := errcode.As(err); !ok || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("%s: %v, want %s on %s", tc.name, err, tc.code, tc.field)
		}
	}

	reportOf := func(runID string) *ent.DeepAnalysisReport {
		t.Helper()
		rep, err := db.DeepAnalysisReport.Query().Where(deepanalysisreport.RunID(runID)).Only(actx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	r, err := s.StartDeepAnalysis(actx, c.ID, " What drives prices? ")
	if err != nil {
		t.Fatal(err)
	}
	rep := reportOf(r.ID)
	if rep.Status != deepanalysisreport.StatusPENDING || rep.Goal != "What drives prices?" || rep.ChatID == nil || *rep.ChatID != c.ID || rep.UUID == "" {
		t.Fatalf("report at start = %+v", rep)
	}
	if got, err := r.QueryReport().OnlyID(actx); err != nil || got != rep.ID {
		t.Fatalf("Run.report = %q, %v", got, err)
	}
	if _, err := s.Cancel(actx, r.ID); err != nil {
		t.Fatal(err)
	}
	if rep = reportOf(r.ID); rep.Status != deepanalysisreport.StatusFAILED || rep.ErrorMessage == nil || !strings.Contains(*rep.ErrorMessage, "cancelled") {
		t.Fatalf("report after cancelling the queued run = %+v", rep)
	}

	// A run that fails (no model configured) leaves its report FAILED.
	r, err = s.StartDeepAnalysis(actx, c.ID, "What drives prices?")
	if err != nil {
		t.Fatal(err)
	}
	w := s.StartWorkers(1)
	defer w.Stop(ctx)
	s.waitEnd(actx, r.ID, 10*time.Second)
	if rr, _ := db.Run.Get(actx, r.ID); rr.Status != run.StatusFAILED {
		t.Fatalf("run = %s", rr.Status)
	}
	if rep = reportOf(r.ID); rep.Status != deepanalysisreport.StatusFAILED || rep.ErrorMessage == nil || !strings.Contains(*rep.ErrorMessage, "OPENAI_API_KEY") {
		t.Fatalf("report after the run failed = %+v", rep)
	}
}
