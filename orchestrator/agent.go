package orchestrator

import (
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/autoanalyst/autoanalyst/catalog"
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

// agentSet is the agents one turn may use: those a user can @mention, and
// those the planner may choose.
type agentSet struct {
	agents map[string]*Agent
	order  []string
	// mentionable and planner are nil when every agent is (the built-in set).
	mentionable, planner map[string]bool
}

func (a *agentSet) add(ag *Agent) {
	if a.agents == nil {
		a.agents = map[string]*Agent{}
	}
	if _, ok := a.agents[ag.Name]; !ok {
		a.order = append(a.order, ag.Name)
	}
	a.agents[ag.Name] = ag
}

func (a *agentSet) canMention(name string) bool {
	_, ok := a.agents[name]
	return ok && (a.mentionable == nil || a.mentionable[name])
}

// plannerKnown returns the agents the planner may put in a plan.
func (a *agentSet) plannerKnown() map[string]*Agent {
	out := map[string]*Agent{}
	for n, ag := range a.agents {
		if ag.WritesCode && (a.planner == nil || a.planner[n]) {
			out[n] = ag
		}
	}
	return out
}

// prompts holds the parsed prompt templates and the built-in agents (those
// of the default templates configuration that need no premium plan). It is
// built once from embedded files and never changes.
type prompts struct {
	rate, plan, agent, basicQA, fix, fixCode, name, edit, memory, correction, describe *template.Template
	deep                                                                               deepPrompts
	agentSet
}

// basicQAAgent answers in prose with its own prompt (prompts/basic_qa_agent.txt).
const basicQAAgent = "basic_qa_agent"

// agentOf makes the agent of a template.
func agentOf(name, description, prompt string) *Agent {
	return &Agent{Name: name, Description: description, WritesCode: name != basicQAAgent, role: strings.TrimSpace(prompt)}
}

func loadPrompts() (*prompts, error) {
	p := &prompts{}
	parse := func(name string) (*template.Template, error) {
		b, err := promptFS.ReadFile("prompts/" + name + ".txt")
		if err != nil {
			return nil, err
		}
		return template.New(name).Option("missingkey=error").Parse(string(b))
	}
	var err error
	for name, dst := range map[string]**template.Template{
		"rate": &p.rate, "plan": &p.plan, "agent": &p.agent, "basic_qa_agent": &p.basicQA, "fix": &p.fix, "fix_code": &p.fixCode, "name": &p.name, "edit": &p.edit,
		"memory": &p.memory, "correction": &p.correction,
		"describe": &p.describe,
	} {
		if *dst, err = parse(name); err != nil {
			return nil, fmt.Errorf("load prompt %s: %w", name, err)
		}
	}
	if p.deep, err = loadDeepPrompts(parse); err != nil {
		return nil, err
	}
	cfg, err := catalog.DefaultTemplateConfig()
	if err != nil {
		return nil, err
	}
	for _, t := range cfg.Templates {
		if !t.Premium {
			p.add(agentOf(t.Name, t.Description, t.Prompt))
		}
	}
	if _, ok := p.agents[basicQAAgent]; !ok {
		return nil, fmt.Errorf("the default templates configuration has no %s", basicQAAgent)
	}
	return p, nil
}

// plannerAgents lists the agents the planner may use.
func (a *agentSet) plannerAgents() string {
	known := a.plannerKnown()
	var b strings.Builder
	for _, n := range a.order {
		if ag, ok := known[n]; ok {
			fmt.Fprintf(&b, "- %s: %s\n", ag.Name, ag.Description)
		}
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

// mentions returns the agents addressed with @name (or @name without its
// "_agent" suffix) that may be mentioned, in order, without repeats, and the
// question with those mentions removed.
func (a *agentSet) mentions(content string) ([]string, string) {
	resolve := func(name string) (string, bool) {
		if a.canMention(name) {
			return name, true
		}
		if a.canMention(name + "_agent") {
			return name + "_agent", true
		}
		return "", false
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatch(content, -1) {
		name, ok := resolve(m[1])
		if ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, content
	}
	rest := mentionRE.ReplaceAllStringFunc(content, func(s string) string {
		if _, ok := resolve(s[1:]); ok {
			return ""
		}
		return s
	})
	return out, strings.TrimSpace(rest)
}
