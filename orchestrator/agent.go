package orchestrator

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
)

//go:embed prompts/*.txt
var promptFS embed.FS

// Agent is an analysis agent: a role prompt and what the planner is told of it.
type Agent struct {
	Name        string
	Description string
	// WritesCode is false for agents that answer in prose (basic_qa_agent).
	WritesCode bool
	role       string
}

// prompts holds the parsed prompt templates. It is built once from embedded
// files and never changes.
type prompts struct {
	rate, plan, agent, basicQA, fix *template.Template
	agents                          map[string]*Agent
	order                           []string
}

func loadPrompts() (*prompts, error) {
	p := &prompts{agents: map[string]*Agent{}}
	parse := func(name string) (*template.Template, error) {
		b, err := promptFS.ReadFile("prompts/" + name + ".txt")
		if err != nil {
			return nil, err
		}
		return template.New(name).Option("missingkey=error").Parse(string(b))
	}
	var err error
	for name, dst := range map[string]**template.Template{
		"rate": &p.rate, "plan": &p.plan, "agent": &p.agent, "basic_qa_agent": &p.basicQA, "fix": &p.fix,
	} {
		if *dst, err = parse(name); err != nil {
			return nil, fmt.Errorf("load prompt %s: %w", name, err)
		}
	}
	for _, a := range []Agent{
		{Name: "preprocessing_agent", WritesCode: true,
			Description: "cleans and prepares data with pandas/numpy: types, missing values, dates, duplicates"},
		{Name: "statistical_analytics_agent", WritesCode: true,
			Description: "statistics with statsmodels: regression (OLS), tests, seasonal decomposition; prints results"},
		{Name: "sk_learn_agent", WritesCode: true,
			Description: "machine learning with scikit-learn: pipelines, train/test split, metrics, feature importance"},
		{Name: "data_viz_agent", WritesCode: true,
			Description: "interactive Plotly charts, one figure per chart"},
		{Name: "basic_qa_agent", WritesCode: false,
			Description: "answers questions that need no code"},
	} {
		a := a
		if a.WritesCode {
			b, err := promptFS.ReadFile("prompts/" + a.Name + ".txt")
			if err != nil {
				return nil, fmt.Errorf("load prompt %s: %w", a.Name, err)
			}
			a.role = strings.TrimSpace(string(b))
		}
		p.agents[a.Name] = &a
		p.order = append(p.order, a.Name)
	}
	return p, nil
}

// plannerAgents lists the agents the planner may use.
func (p *prompts) plannerAgents() string {
	var b strings.Builder
	for _, n := range p.order {
		a := p.agents[n]
		if !a.WritesCode {
			continue
		}
		fmt.Fprintf(&b, "- %s: %s\n", a.Name, a.Description)
	}
	return b.String()
}

func render(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render prompt %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

var mentionRE = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]{0,99})`)

// mentions returns the known agents addressed with @name, in order, without
// repeats, and the question with the mentions removed.
func (p *prompts) mentions(content string) ([]string, string) {
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatch(content, -1) {
		name := m[1]
		if _, ok := p.agents[name]; !ok {
			if _, ok := p.agents[name+"_agent"]; ok {
				name += "_agent"
			} else {
				continue
			}
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, content
	}
	rest := mentionRE.ReplaceAllStringFunc(content, func(s string) string {
		n := s[1:]
		if _, ok := p.agents[n]; ok {
			return ""
		}
		if _, ok := p.agents[n+"_agent"]; ok {
			return ""
		}
		return s
	})
	return out, strings.TrimSpace(rest)
}
