package orchestrator

import (
	"fmt"

	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
)

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
