package orchestrator

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// planProblem is what is wrong with a plan that read as JSON but cannot run
// as written: a variable no step and no dataset provides, or steps that wait
// for each other.
type planProblem struct {
	msg string
}

func (p *planProblem) Error() string { return p.msg }

// orderPlan checks the variables of a plan's steps and returns the steps in
// an order in which every variable is created before it is used. A plan that
// only lists its steps out of order is repaired by moving producers first
// (otherwise keeping the planner's order); one that uses a variable nobody
// creates, or whose steps depend on each other in a cycle, is a
// *planProblem. provided are the names that exist before any step (the
// datasets and df).
func orderPlan(steps []PlanStep, provided []string) ([]PlanStep, error) {
	have := map[string]bool{}
	for _, p := range provided {
		have[p] = true
	}
	producer := map[string]int{} // variable -> first step that creates it
	for i, st := range steps {
		for _, v := range st.Create {
			if _, ok := producer[v]; !ok && !have[v] {
				producer[v] = i
			}
		}
	}
	var unknown []string
	deps := make([][]int, len(steps))
	for i, st := range steps {
		for _, v := range st.Use {
			if have[v] {
				continue
			}
			j, ok := producer[v]
			switch {
			case !ok:
				unknown = append(unknown, fmt.Sprintf("%s (used by %s)", v, st.Agent))
			case j != i && !slices.Contains(deps[i], j):
				deps[i] = append(deps[i], j)
			}
		}
	}
	if len(unknown) > 0 {
		return nil, &planProblem{msg: "no step creates " + strings.Join(unknown, ", ")}
	}
	// Kahn's algorithm, always taking the earliest ready step, so that a
	// plan already in order comes back unchanged.
	done := make([]bool, len(steps))
	out := make([]PlanStep, 0, len(steps))
	for len(out) < len(steps) {
		next := -1
		for i := range steps {
			if done[i] {
				continue
			}
			ready := true
			for _, j := range deps[i] {
				ready = ready && done[j]
			}
			if ready {
				next = i
				break
			}
		}
		if next < 0 {
			var stuck []string
			for i, st := range steps {
				if !done[i] {
					stuck = append(stuck, st.Agent)
				}
			}
			return nil, &planProblem{msg: "the steps " + strings.Join(stuck, ", ") + " use each other's variables in a cycle"}
		}
		done[next] = true
		out = append(out, steps[next])
	}
	return out, nil
}

// dependencies returns, for each step of an ordered plan, the earlier steps
// that create a variable it uses: the steps whose code it must see and wait
// for. Steps with no dependency between them are written in parallel.
func dependencies(steps []PlanStep) [][]int {
	deps := make([][]int, len(steps))
	for i, st := range steps {
		for j := 0; j < i; j++ {
			for _, v := range st.Use {
				if slices.Contains(steps[j].Create, v) && !slices.Contains(deps[i], j) {
					deps[i] = append(deps[i], j)
				}
			}
		}
	}
	return deps
}

// plan rates the question and asks the planner for a plan, re-asking once
// when the plan cannot be read.
func (s *Service) plan(t *turn) (*Plan, error) {
	prompt, err := render(s.prompts.rate, map[string]any{"Datasets": t.datasets, "Question": t.question})
	if err != nil {
		return nil, err
	}
	answer, err := s.call(t, "rater", prompt, nil)
	if err != nil {
		return nil, err
	}
	complexity, needs := parseRating(answer)
	if !needs || complexity == "unrelated" {
		return &Plan{Complexity: complexity, Steps: []PlanStep{{Agent: "basic_qa_agent", Create: []string{}, Use: []string{}}}}, nil
	}
	prompt, err = render(s.prompts.plan, map[string]any{
		"Agents": t.agents.plannerAgents(), "Datasets": t.datasets, "Memory": t.memory,
		"Question": t.question, "Complexity": complexity,
	})
	if err != nil {
		return nil, err
	}
	answer, err = s.call(t, "planner", prompt, nil)
	if err != nil {
		return nil, err
	}
	known := t.agents.plannerKnown()
	steps, perr := s.readPlan(t, answer, known)
	if perr != nil {
		t.rc.emit(EventStep, eventData{Agent: "planner", Text: "the plan cannot be used (" + perr.Error() + "); asking again"})
		retry := prompt + "\n\nYour previous answer could not be used: " + perr.Error() +
			". Answer again with only the JSON object."
		answer, err = s.call(t, "planner", retry, nil)
		if err != nil {
			return nil, err
		}
		var again []PlanStep
		again, perr = s.readPlan(t, answer, known)
		switch {
		case perr == nil:
			steps = again
		case again != nil:
			// It reads but its variables do not add up a second time: run
			// the agents in the planner's order rather than fail the turn.
			t.rc.emit(EventStep, eventData{Agent: "planner", Text: "the plan's variables do not add up (" + perr.Error() + "); running the agents in the planner's order"})
			steps = again
		default:
			return nil, &runError{code: CodeModelError, msg: "the planner's answer could not be read: " + perr.Error()}
		}
	}
	return &Plan{Complexity: complexity, Steps: steps}, nil
}

// readPlan parses the planner's answer and puts its steps in an order that
// creates every variable before its use. When the plan parses but cannot be
// ordered, it returns the parsed steps with the *planProblem.
func (s *Service) readPlan(t *turn, answer string, known map[string]*Agent) ([]PlanStep, error) {
	steps, err := parsePlan(answer, known)
	if err != nil {
		return nil, err
	}
	ordered, err := orderPlan(steps, t.provided())
	if err != nil {
		return steps, err
	}
	return ordered, nil
}

// provided are the names a plan may use without creating them: the datasets
// and the modules of the kernel's namespace.
func (t *turn) provided() []string {
	names := []string{"df", "pd", "np", "px", "go", "plt"}
	for _, d := range t.chat.Edges.Datasets {
		names = append(names, d.Name)
	}
	return names
}

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

// checkMentions refuses a message that @mentions a premium template (by its
// name or without its "_agent" suffix, as mentions resolves them) when the
// viewer is not on the PRO plan: PREMIUM_REQUIRED naming the template, before
// the run is created, rather than a turn that drops the mention silently.
// Without a template service there are no premium agents.
func (s *Service) checkMentions(ctx context.Context, v *viewer.Viewer, content string) error {
	if s.cfg.Templates == nil || v.Plan == string(user.PlanPRO) {
		return nil
	}
	found := mentionRE.FindAllStringSubmatch(content, -1)
	if len(found) == 0 {
		return nil
	}
	tpls, err := s.cfg.Templates.ForRun(ctx, v.UserID)
	if err != nil {
		return err
	}
	premium := map[string]bool{} // mentionable template name: is premium
	for _, t := range tpls {
		if t.Variant != agenttemplate.VariantPLANNER {
			premium[t.Name] = premium[t.Name] || t.IsPremium
		}
	}
	for _, m := range found {
		name := m[1]
		if _, ok := premium[name]; !ok {
			name += "_agent"
		}
		if premium[name] {
			return &errcode.Error{Code: errcode.PremiumRequired, Field: "content",
				Message: fmt.Sprintf("@%s: %s is a premium template: it needs the PRO plan", m[1], name)}
		}
	}
	return nil
}

// span is where one part of a combined program lies: an agent's block
// (markers included) or, with no agent, loose lines outside every block.
type span struct {
	agent       string
	first, last int // 1-based lines
}

// spans cuts code into agents' blocks and loose lines as splitBlocks reads
// it, with the lines each part covers.
func spans(code string) []span {
	var out []span
	var cur *span
	for i, line := range strings.Split(code, "\n") {
		n := i + 1
		switch {
		case cur != nil && cur.agent != "" && strings.TrimSpace(line) == "# "+cur.agent+" code end":
			cur.last = n
			out = append(out, *cur)
			cur = nil
		case cur != nil && cur.agent != "":
			cur.last = n
		case blockStartRE.MatchString(line):
			if cur != nil {
				out = append(out, *cur)
			}
			cur = &span{agent: blockStartRE.FindStringSubmatch(line)[1], first: n, last: n}
		case cur != nil:
			cur.last = n
		default:
			cur = &span{first: n, last: n}
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// blame names the agent whose block a chat turn's repair rewrites after the
// combined code failed with e, and the code to repair, in which that block
// holds the failing line. The kernel names the block holding the error's
// line; when the line is outside every block (loose code before, between or
// after them), the nearest block before it is blamed (the first block when
// the line comes before all of them) and the loose lines up to the next block
// (or, before the first block, the lines before it) join the blamed block, so
// that its repair can change the line that failed. An error with no line in
// the code (none of its frames ran there) and code without blocks blame no
// agent: "" and code unchanged.
func blame(code string, e *executor.Error) (string, string) {
	if e == nil {
		return "", code
	}
	parts := spans(code)
	if e.Agent != "" {
		for _, p := range parts {
			if p.agent == e.Agent {
				return e.Agent, code
			}
		}
	}
	if e.Line <= 0 {
		return "", code
	}
	at := -1
	for i, p := range parts {
		if p.first <= e.Line && e.Line <= p.last {
			at = i
		}
	}
	if at < 0 {
		at = len(parts) - 1 // past the end (a SyntaxError at the end of the code)
	}
	if at >= 0 && parts[at].agent != "" {
		return parts[at].agent, code
	}
	owner := -1
	for i := at - 1; i >= 0 && owner < 0; i-- {
		if parts[i].agent != "" {
			owner = i
		}
	}
	for i := at + 1; i < len(parts) && owner < 0; i++ {
		if parts[i].agent != "" {
			owner = i
		}
	}
	if owner < 0 {
		return "", code
	}
	return parts[owner].agent, absorb(code, parts, at, owner)
}

// absorb moves the loose lines of parts[loose] into the block parts[owner],
// the nearest block before them or, when none is, after them, and returns
// the code.
func absorb(code string, parts []span, loose, owner int) string {
	lines := strings.Split(code, "\n")
	part := func(p span) []string { return lines[p.first-1 : p.last] }
	var out []string
	for i, p := range parts {
		switch {
		case i == loose:
			continue
		case i == owner && owner < loose:
			// A block that loose lines follow ended with its end marker.
			b := part(p)
			out = append(out, b[:len(b)-1]...)
			out = append(out, part(parts[loose])...)
			out = append(out, b[len(b)-1])
		case i == owner:
			b := part(p)
			out = append(out, b[0]) // its start marker
			out = append(out, part(parts[loose])...)
			out = append(out, b[1:]...)
		default:
			out = append(out, part(p)...)
		}
	}
	return strings.Join(out, "\n")
}
