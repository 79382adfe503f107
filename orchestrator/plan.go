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
