package orchestrator

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"text/template"

	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/executor"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the code produces now")

// checkGolden compares got with testdata/<name>.golden.txt, or rewrites that
// file when the test runs with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -run %s -update to create it): %v", t.Name(), err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run go test -run %s -update and review the diff):\n%s", name, path, t.Name(), got)
	}
}

// TestPromptsGolden renders every prompt with the data a run gives it and
// compares the text with its golden file, so a prompt changes only on purpose.
func TestPromptsGolden(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	datasets := "- df (housing, 545 rows): price int64, area int64, bedrooms int64, furnishingstatus object"
	for _, tc := range []struct {
		name string
		tpl  *template.Template
		data map[string]any
	}{
		{"rate", p.rate, map[string]any{"Datasets": datasets, "Question": "Which features drive the price?"}},
		{"plan", p.plan, map[string]any{
			"Datasets": datasets, "Question": "Which features drive the price?", "Memory": "",
			"Complexity": "intermediate", "Agents": p.plannerAgents(),
		}},
		{"agent_planned", p.agent, map[string]any{
			"Role": p.agents["data_viz_agent"].role, "Datasets": datasets, "Memory": "Q: How many rows?\nA: 545 rows.",
			"Question": "Which features drive the price?", "Instruction": "Plot price against area",
			"Create": "fig", "Use": "df_clean", "Before": "df_clean = df.dropna()",
		}},
		{"agent_mentioned", p.agent, map[string]any{
			"Role": p.agents["statistical_analytics_agent"].role, "Datasets": datasets, "Memory": "",
			"Question": "Is price correlated with area?", "Instruction": "", "Create": "", "Use": "", "Before": "",
		}},
		{"basic_qa_agent", p.basicQA, map[string]any{"Memory": "", "Question": "What is a p-value?"}},
		{"fix", p.fix, map[string]any{
			"Datasets": datasets, "Agent": "data_viz_agent", "Code": "fig = px.scatter(df, x='Area', y='price')",
			"Error":   "ValueError: Value of 'x' is not the name of a column in 'data_frame'.",
			"Lessons": "- Column names are lowercase in this dataset: use 'area', not 'Area'.\n",
		}},
		{"fix_code", p.fixCode, map[string]any{
			"Datasets": datasets, "Code": "df.groupby('bedrooms').price.mean(", "Error": "SyntaxError: '(' was never closed",
			"Lessons": "",
		}},
		{"edit", p.edit, map[string]any{
			"Datasets": datasets, "Code": "fig = px.histogram(df, x='price')", "Instruction": "use 50 bins",
		}},
		{"name", p.name, map[string]any{"Question": "Which features drive the price of a house?"}},
		{"memory", p.memory, map[string]any{
			"Question": "Which city is the most expensive?",
			"Answer":   "### statistical_analytics_agent\n\nMean price by city.\n\nOutput:\n\n```\nLyon    225.0\nNice    300.0\n```",
		}},
		{"correction", p.correction, map[string]any{
			"Agent": "data_viz_agent", "Error": "KeyError: 'Price'",
			"Failed": "fig = px.bar(df, x='city', y='Price')", "Fixed": "fig = px.bar(df, x='city', y='price')",
		}},
		{"interpret", p.interpret, map[string]any{
			"Question": "Which city is the most expensive?",
			"Plan":     describePlan(&Plan{Steps: []PlanStep{{Agent: "statistical_analytics_agent", Instruction: "mean price per city"}}}),
			"Outputs": describeOutputs(&executor.Result{OK: true, Stdout: "highest: Nice\n",
				Tables:  []executor.Table{{Columns: []string{"city", "price"}, Rows: [][]any{{"Lyon", 225.0}, {"Nice", 300.0}}}},
				Figures: []json.RawMessage{json.RawMessage(`{"data":[{"type":"bar","x":["Lyon","Nice"],"y":[225,300]}],"layout":{"title":{"text":"Mean price"},"xaxis":{"title":{"text":"city"}}}}`)}}),
		}},
		{"followups", p.followUps, map[string]any{
			"Datasets": datasets, "Question": "Which city is the most expensive?",
			"Answer": "Nice is the most expensive city: its mean price is 300, against 225 in Lyon.",
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

// TestAgentPromptsGolden renders the prompt of every agent of the default
// templates, premium ones included, in both variants: planned (with its
// part of the plan) and @mentioned (the user's question alone).
func TestAgentPromptsGolden(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := catalog.DefaultTemplateConfig()
	if err != nil {
		t.Fatal(err)
	}
	datasets := "- housing (also available as df): 545 rows, from Housing.csv\n  columns: price (int64), area (int64), bedrooms (int64)"
	for _, tpl := range cfg.Templates {
		a := agentOf(tpl.Name, tpl.Description, tpl.Prompt)
		if !a.WritesCode {
			continue // basic_qa_agent has its own prompt (TestPromptsGolden)
		}
		variants := map[string]map[string]any{
			"planner": {
				"Instruction": "Do your part for the question", "Create": "result", "Use": "df_clean",
				"Before": "df_clean = df.dropna()",
			},
			"individual": {"Instruction": "", "Create": "", "Use": "", "Before": ""},
		}
		for variant, data := range variants {
			t.Run(tpl.Name+"/"+variant, func(t *testing.T) {
				data["Role"], data["Datasets"], data["Memory"] = a.role, datasets, ""
				data["Question"] = "How does the price depend on the area?"
				got, err := render(p.agent, data)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "agent_"+tpl.Name+"_"+variant, got)
			})
		}
	}
}
