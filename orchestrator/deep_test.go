package orchestrator

import (
	"encoding/json"
	"reflect"
	"testing"
	"text/template"

	"github.com/autoanalyst/autoanalyst/executor"
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
