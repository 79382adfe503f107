package orchestrator

import (
	"fmt"
	"slices"
	"strings"
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
