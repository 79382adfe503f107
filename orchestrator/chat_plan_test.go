package orchestrator

import (
	"errors"
	"reflect"
	"testing"
)

func TestOrderPlan(t *testing.T) {
	step := func(agent string, create, use []string) PlanStep {
		return PlanStep{Agent: agent, Create: create, Use: use}
	}
	names := func(steps []PlanStep) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s.Agent)
		}
		return out
	}
	tests := []struct {
		name    string
		steps   []PlanStep
		want    []string
		problem bool
	}{
		{"in order", []PlanStep{step("a", []string{"x"}, []string{"df"}), step("b", []string{"fig"}, []string{"x"})}, []string{"a", "b"}, false},
		{"used before created is reordered", []PlanStep{step("b", []string{"fig"}, []string{"x"}), step("a", []string{"x"}, []string{"houses"})}, []string{"a", "b"}, false},
		{"independent keep their order", []PlanStep{step("c", nil, []string{"df"}), step("a", nil, nil), step("b", nil, []string{"pd"})}, []string{"c", "a", "b"}, false},
		{"a step may use what it creates", []PlanStep{step("a", []string{"x"}, []string{"x"})}, []string{"a"}, false},
		{"unknown variable", []PlanStep{step("a", nil, []string{"nowhere"})}, nil, true},
		{"cycle", []PlanStep{step("a", []string{"x"}, []string{"y"}), step("b", []string{"y"}, []string{"x"})}, nil, true},
		{"a dataset is not created again", []PlanStep{step("b", nil, []string{"houses"}), step("a", []string{"houses"}, nil)}, []string{"b", "a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := orderPlan(tt.steps, []string{"df", "pd", "houses"})
			var pp *planProblem
			if tt.problem != errors.As(err, &pp) {
				t.Fatalf("err = %v, want a plan problem: %v", err, tt.problem)
			}
			if !tt.problem && !reflect.DeepEqual(names(got), tt.want) {
				t.Fatalf("order = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	steps := []PlanStep{
		{Agent: "clean", Create: []string{"df_clean"}},
		{Agent: "stats", Create: []string{"model"}, Use: []string{"df"}},
		{Agent: "viz", Create: []string{"fig"}, Use: []string{"df_clean", "model"}},
	}
	got := dependencies(steps)
	want := [][]int{nil, nil, {0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("dependencies = %v, want %v", got, want)
	}
}
