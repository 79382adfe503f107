package orchestrator

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
)

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

// basicQAAgent answers in prose with its own prompt (prompts/basic_qa_agent.txt).
const basicQAAgent = "basic_qa_agent"

// agentOf makes the agent of a template.
func agentOf(name, description, prompt string) *Agent {
	return &Agent{Name: name, Description: description, WritesCode: name != basicQAAgent, role: strings.TrimSpace(prompt)}
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

// turnAgents returns the agents a user's chat turn may use: every template
// they see may be @mentioned (INDIVIDUAL or BOTH variants), the planner
// chooses among their enabled ones (PLANNER or BOTH), and premium templates
// only on the PRO plan. Without a template service, the built-in agents.
func (s *Service) turnAgents(rc *runContext) (*agentSet, error) {
	if s.cfg.Templates == nil {
		return &s.prompts.agentSet, nil
	}
	u, err := s.cfg.DB.User.Get(privacy.DecisionContext(rc.user, privacy.Allow), rc.run.UserID)
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", rc.run.UserID, err)
	}
	tpls, err := s.cfg.Templates.ForRun(rc.user, rc.run.UserID)
	if err != nil {
		return nil, err
	}
	set := &agentSet{mentionable: map[string]bool{}, planner: map[string]bool{}}
	for _, t := range tpls {
		if t.IsPremium && u.Plan != user.PlanPRO {
			continue
		}
		ag := agentOf(t.Name, t.Description, t.Prompt)
		if _, ok := set.agents[ag.Name]; ok && t.UserID != nil {
			continue // a built-in name is never shadowed (custom names cannot take one)
		}
		set.add(ag)
		enabled := false
		for _, p := range t.Edges.Preferences {
			enabled = enabled || p.IsEnabled
		}
		if t.Variant != agenttemplate.VariantPLANNER {
			set.mentionable[ag.Name] = true
		}
		if enabled && t.Variant != agenttemplate.VariantINDIVIDUAL {
			set.planner[ag.Name] = true
		}
	}
	if len(set.plannerKnown()) == 0 {
		// No enabled template the planner may use (a user from before
		// templates existed): the built-in agents.
		for n, ag := range s.prompts.agents {
			if _, ok := set.agents[n]; !ok {
				set.add(ag)
			}
			set.planner[n] = true
		}
	}
	if _, ok := set.agents[basicQAAgent]; !ok {
		set.add(s.prompts.agents[basicQAAgent]) // unrelated questions go there
	}
	return set, nil
}
