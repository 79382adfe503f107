package orchestrator

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var codeBlockRE = regexp.MustCompile("(?s)```(?:python|py)?[ \t]*\r?\n(.*?)```")

// errNoCode is returned when an agent's answer has no code block.
var errNoCode = errors.New("the answer has no ```python code block")

// parseAgentAnswer splits an agent's answer into its code (all fenced Python
// blocks, joined) and its summary (the text outside them).
func parseAgentAnswer(answer string) (code, summary string, err error) {
	matches := codeBlockRE.FindAllStringSubmatchIndex(answer, -1)
	if len(matches) == 0 {
		// An unterminated block (the model ran out of tokens) is still code.
		if i := strings.Index(answer, "```python"); i >= 0 {
			body := answer[i+len("```python"):]
			return strings.TrimSpace(body), strings.TrimSpace(answer[:i]), nil
		}
		return "", strings.TrimSpace(answer), errNoCode
	}
	var codes []string
	var rest strings.Builder
	prev := 0
	for _, m := range matches {
		rest.WriteString(answer[prev:m[0]])
		codes = append(codes, strings.TrimSpace(answer[m[2]:m[3]]))
		prev = m[1]
	}
	rest.WriteString(answer[prev:])
	return strings.Join(codes, "\n\n"), strings.TrimSpace(rest.String()), nil
}

var complexities = map[string]bool{"basic": true, "intermediate": true, "advanced": true, "unrelated": true}

// parseRating reads the rater's JSON; anything unreadable counts as
// "intermediate" with analysis, the safe default.
func parseRating(answer string) (complexity string, needsAnalysis bool) {
	var r struct {
		Complexity    string `json:"complexity"`
		NeedsAnalysis *bool  `json:"needs_analysis"`
	}
	if err := json.Unmarshal([]byte(extractJSON(answer)), &r); err != nil {
		return "intermediate", true
	}
	c := strings.ToLower(strings.TrimSpace(r.Complexity))
	if !complexities[c] {
		c = "intermediate"
	}
	needs := c != "unrelated"
	if r.NeedsAnalysis != nil {
		needs = *r.NeedsAnalysis && c != "unrelated"
	}
	return c, needs
}

// parsePlan reads and validates the planner's JSON against the known agents.
func parsePlan(answer string, known map[string]*Agent) ([]PlanStep, error) {
	var raw struct {
		Plan         json.RawMessage `json:"plan"`
		Instructions map[string]struct {
			Create      []string `json:"create"`
			Use         []string `json:"use"`
			Instruction string   `json:"instruction"`
		} `json:"instructions"`
	}
	js := extractJSON(answer)
	if js == "" {
		return nil, errors.New("the plan is not a JSON object")
	}
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		return nil, fmt.Errorf("the plan is not valid JSON: %w", err)
	}
	var names []string
	var list []string
	if err := json.Unmarshal(raw.Plan, &list); err == nil {
		names = list
	} else {
		var s string
		if err := json.Unmarshal(raw.Plan, &s); err != nil {
			return nil, errors.New(`the plan has no "plan" list of agents`)
		}
		for _, part := range strings.Split(s, "->") {
			names = append(names, strings.TrimSpace(part))
		}
	}
	var steps []PlanStep
	seen := map[string]bool{}
	created := map[string]bool{"df": true}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		a, ok := known[n]
		if !ok || !a.WritesCode {
			return nil, fmt.Errorf("the plan names an unknown agent %q", n)
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		in := raw.Instructions[n]
		for _, v := range in.Create {
			created[v] = true
		}
		steps = append(steps, PlanStep{Agent: n, Instruction: in.Instruction, Create: nonNil(in.Create), Use: nonNil(in.Use)})
	}
	if len(steps) == 0 {
		return nil, errors.New("the plan has no agents")
	}
	return steps, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// extractJSON returns the outermost {...} of s (models like to wrap JSON in
// prose or code fences), or "".
func extractJSON(s string) string {
	start := strings.IndexByte(s, '{')
	end := strings.LastIndexByte(s, '}')
	if start < 0 || end <= start {
		return ""
	}
	return s[start : end+1]
}
