package orchestrator

import (
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/autoanalyst/autoanalyst/catalog"
)

//go:embed prompts/*.txt
var promptFS embed.FS

// prompts holds the parsed prompt templates and the built-in agents (those
// of the default templates configuration that need no premium plan). It is
// built once from embedded files and never changes.
type prompts struct {
	rate, plan, agent, basicQA, fix, fixCode, name, edit, memory, correction, describe *template.Template
	interpret, followUps                                                               *template.Template
	deep                                                                               deepPrompts
	agentSet
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
		"describe": &p.describe, "interpret": &p.interpret, "followups": &p.followUps,
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

func render(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render prompt %s: %w", t.Name(), err)
	}
	return b.String(), nil
}
