package orchestrator

import (
	"strings"
	"testing"
)

func TestParseAgentAnswer(t *testing.T) {
	tests := []struct {
		name, in, code, summary string
		err                     bool
	}{
		{"fenced", "```python\nprint(1)\n```\nPrints one.", "print(1)", "Prints one.", false},
		{"text around", "Here:\n```py\nx = 1\n```\nDone.", "x = 1", "Here:\n\nDone.", false},
		{"two blocks", "```python\na = 1\n```\nand\n```python\nb = 2\n```", "a = 1\n\nb = 2", "and", false},
		{"unterminated", "Summary first\n```python\nx = 2\n", "x = 2", "Summary first", false},
		{"no code", "I cannot do that.", "", "I cannot do that.", true},
		{"empty", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, summary, err := parseAgentAnswer(tt.in)
			if (err != nil) != tt.err || code != tt.code || summary != tt.summary {
				t.Fatalf("got (%q, %q, %v), want (%q, %q, err=%v)", code, summary, err, tt.code, tt.summary, tt.err)
			}
		})
	}
}

func TestParseRating(t *testing.T) {
	tests := []struct {
		in    string
		c     string
		needs bool
	}{
		{`{"complexity": "basic", "needs_analysis": true}`, "basic", true},
		{"```json\n{\"complexity\": \"Unrelated\"}\n```", "unrelated", false},
		{`{"complexity": "advanced", "needs_analysis": false}`, "advanced", false},
		{`{"complexity": "galactic"}`, "intermediate", true},
		{`not json at all`, "intermediate", true},
	}
	for _, tt := range tests {
		c, needs := parseRating(tt.in)
		if c != tt.c || needs != tt.needs {
			t.Errorf("parseRating(%q) = %s, %v; want %s, %v", tt.in, c, needs, tt.c, tt.needs)
		}
	}
}

func TestParsePlan(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     string
		agents string
		err    string
	}{
		{"list", `{"plan": ["preprocessing_agent", "data_viz_agent"], "instructions": {"data_viz_agent": {"create": ["fig"], "use": ["df_clean"], "instruction": "chart"}}}`,
			"preprocessing_agent,data_viz_agent", ""},
		{"arrow string", `Sure! {"plan": "sk_learn_agent -> data_viz_agent", "instructions": {}}`, "sk_learn_agent,data_viz_agent", ""},
		{"repeat dropped", `{"plan": ["data_viz_agent", "data_viz_agent"]}`, "data_viz_agent", ""},
		{"unknown agent", `{"plan": ["magic_agent"]}`, "", "unknown agent"},
		{"prose agent refused", `{"plan": ["basic_qa_agent"]}`, "", "unknown agent"},
		{"empty", `{"plan": []}`, "", "no agents"},
		{"no json", `I think we should chart it.`, "", "not a JSON object"},
		{"broken json", `{"plan": ["data_viz_agent"`, "", "not a JSON object"},
		{"no plan key", `{"steps": 1}`, "", "no \"plan\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps, err := parsePlan(tt.in, p.agents)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range steps {
				names = append(names, s.Agent)
				if s.Create == nil || s.Use == nil {
					t.Fatal("nil create/use lists")
				}
			}
			if got := strings.Join(names, ","); got != tt.agents {
				t.Fatalf("agents = %s, want %s", got, tt.agents)
			}
		})
	}
}

func TestMentions(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, agents, rest string
	}{
		{"@data_viz_agent plot price", "data_viz_agent", "plot price"},
		{"@preprocessing_agent @data_viz @preprocessing_agent clean and plot", "preprocessing_agent,data_viz_agent", "clean and plot"},
		{"email me at bob@example.com", "", "email me at bob@example.com"},
		{"@unknown_agent hi", "", "@unknown_agent hi"},
	}
	for _, tt := range tests {
		agents, rest := p.mentions(tt.in)
		if strings.Join(agents, ",") != tt.agents || rest != tt.rest {
			t.Errorf("mentions(%q) = %v, %q; want %s, %q", tt.in, agents, rest, tt.agents, tt.rest)
		}
	}
}

func TestBlocksRoundTrip(t *testing.T) {
	outs := []agentOutput{
		{agent: "preprocessing_agent", code: "df_clean = df.copy()\n"},
		{agent: "basic_qa_agent"},
		{agent: "data_viz_agent", code: "fig = px.bar(df_clean)\nfig.show()"},
	}
	code := combine(outs)
	want := "# preprocessing_agent code start\ndf_clean = df.copy()\n# preprocessing_agent code end\n\n" +
		"# data_viz_agent code start\nfig = px.bar(df_clean)\nfig.show()\n# data_viz_agent code end"
	if code != want {
		t.Fatalf("combine:\n%s\nwant:\n%s", code, want)
	}
	blocks := splitBlocks(code)
	if len(blocks) != 2 || blocks[1].agent != "data_viz_agent" || blocks[1].code != "fig = px.bar(df_clean)\nfig.show()" {
		t.Fatalf("splitBlocks = %+v", blocks)
	}
	if joinBlocks(blocks) != code {
		t.Fatal("join(split(code)) != code")
	}
}

// TestAgentPromptsNameTheirAgent checks that each code-writing agent's role
// names it, so its blocks can be traced back to it.
func TestAgentPromptsNameTheirAgent(t *testing.T) {
	p, err := loadPrompts()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range p.order {
		if a := p.agents[name]; a.WritesCode && !strings.Contains(a.role, name) {
			t.Errorf("%s's prompt does not name it", name)
		}
	}
}
