package orchestrator

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/autoanalyst/autoanalyst/executor"
)

// Bounds of a deep analysis.
const (
	// maxDeepQuestions is how many research questions are kept.
	maxDeepQuestions = 5
	// maxSynthesisTries bounds the code synthesis's run-and-repair loop.
	maxSynthesisTries = 5
	// defaultDeepExecTimeout is the execution step's limit without
	// Config.DeepExecTimeout.
	defaultDeepExecTimeout = 5 * time.Minute
)

// deepPrompts are the prompts of a deep analysis (prompts/deep_*.txt).
type deepPrompts struct {
	questions, plan, planFix, codeSynthesis, codeFix, synthesis, conclusion *template.Template
}

// loadDeepPrompts parses the deep-analysis prompts with parse (agent.go's).
func loadDeepPrompts(parse func(name string) (*template.Template, error)) (deepPrompts, error) {
	var p deepPrompts
	var err error
	for name, dst := range map[string]**template.Template{
		"deep_questions": &p.questions, "deep_plan": &p.plan, "deep_plan_fix": &p.planFix,
		"deep_code_synthesis": &p.codeSynthesis, "deep_code_fix": &p.codeFix,
		"deep_synthesis": &p.synthesis, "deep_conclusion": &p.conclusion,
	} {
		if *dst, err = parse(name); err != nil {
			return p, fmt.Errorf("load prompt %s: %w", name, err)
		}
	}
	return p, nil
}

// deepStep is one of the seven steps: its name (in the report's
// steps_completed), its title (in its STEP event), the progress announced
// when it starts, and what it does.
type deepStep struct {
	name, title string
	progress    int
	run         func(d *deepRun) error
}

// deepSteps are the original's seven steps, in order.
func (s *Service) deepSteps() []deepStep {
	return []deepStep{
		{"questions", "research questions", 5, s.deepQuestions},
		{"planning", "plan", 15, s.deepPlan},
		{"agents", "agents", 25, s.deepAgents},
		{"code_synthesis", "code synthesis", 50, s.deepCodeSynthesis},
		{"execution", "execution", 65, s.deepExecute},
		{"synthesis", "synthesis", 80, s.deepSynthesis},
		{"conclusion", "conclusion", 90, s.deepConclusion},
	}
}

// numbered lists the research questions as "1. ..." lines.
func (d *deepRun) numbered() string {
	var b strings.Builder
	for i, q := range d.questions {
		fmt.Fprintf(&b, "%d. %s\n", i+1, q)
	}
	return strings.TrimRight(b.String(), "\n")
}

// deepQuestions is step 1: up to five research questions from the goal.
func (s *Service) deepQuestions(d *deepRun) error {
	prompt, err := render(s.prompts.deep.questions, map[string]any{"Goal": d.goal, "Datasets": d.t.datasets})
	if err != nil {
		return err
	}
	answer, err := s.call(d.t, "deep_questions", prompt, nil)
	if err != nil {
		return err
	}
	d.questions = parseQuestions(answer)
	if len(d.questions) == 0 {
		d.questions = []string{d.goal}
	}
	d.t.rc.emit(EventAgentFinished, eventData{Agent: "deep_questions", Text: d.numbered()})
	return nil
}

var questionPrefixRE = regexp.MustCompile(`^\s*(?:\d+\s*[.):]|[-*•]|Q\d+[.:])\s*`)

// parseQuestions reads a numbered or bulleted list: at most five questions,
// without their numbers or emphasis, headings and blank lines skipped.
func parseQuestions(answer string) []string {
	var out []string
	for _, line := range strings.Split(answer, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "```") {
			continue
		}
		listed := questionPrefixRE.MatchString(line)
		q := strings.Trim(strings.TrimSpace(questionPrefixRE.ReplaceAllString(line, "")), "*_ ")
		if q == "" || (!listed && strings.HasSuffix(q, ":")) {
			continue // "Research questions:"
		}
		out = append(out, q)
		if len(out) == maxDeepQuestions {
			break
		}
	}
	return out
}

// deepPlan is step 2: which agents answer which questions, with one repair
// when the plan cannot be read.
func (s *Service) deepPlan(d *deepRun) error {
	t := d.t
	agents := t.agents.plannerAgents()
	prompt, err := render(s.prompts.deep.plan, map[string]any{
		"Agents": agents, "Datasets": t.datasets, "Goal": d.goal, "Questions": d.numbered(),
	})
	if err != nil {
		return err
	}
	answer, err := s.call(t, "deep_planner", prompt, nil)
	if err != nil {
		return err
	}
	known := t.agents.plannerKnown()
	steps, perr := parsePlan(answer, known)
	if perr != nil {
		t.rc.emit(EventStep, eventData{Agent: "deep_planner", Text: "the plan cannot be used (" + perr.Error() + "); repairing it", Progress: intp(15)})
		prompt, err := render(s.prompts.deep.planFix, map[string]any{"Agents": agents, "Plan": answer, "Error": perr.Error()})
		if err != nil {
			return err
		}
		if answer, err = s.call(t, "deep_plan_fix", prompt, nil); err != nil {
			return err
		}
		if steps, perr = parsePlan(answer, known); perr != nil {
			return &runError{code: CodeModelError, msg: "the deep analysis's plan could not be read: " + perr.Error()}
		}
	}
	d.plan = &Plan{Complexity: "deep", Steps: steps}
	t.rc.emit(EventPlan, eventData{Plan: d.plan})
	return nil
}

func intp(i int) *int { return &i }

// deepAgents is step 3: every agent of the plan writes its code at the same
// time (the agent code-writing path of chat turns). Agents that wrote no code
// are left out; the step fails only when none did.
func (s *Service) deepAgents(d *deepRun) error {
	t := d.t
	t.question = d.goal + "\n\nResearch questions:\n" + d.numbered()
	outs := make([]agentOutput, len(d.plan.Steps))
	errs := make([]error, len(d.plan.Steps))
	var wg sync.WaitGroup
	for i, st := range d.plan.Steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = s.runAgent(t, st, nil)
		}()
	}
	wg.Wait()
	if err := t.rc.user.Err(); err != nil {
		return err
	}
	var firstErr error
	for i, o := range outs {
		if errs[i] != nil {
			firstErr = cmpErr(firstErr, errs[i])
			continue
		}
		if !o.failed && o.code != "" {
			d.outs = append(d.outs, o)
		}
	}
	if len(d.outs) == 0 {
		if firstErr != nil {
			return firstErr
		}
		return &runError{code: CodeModelError, msg: "no agent of the deep analysis wrote code"}
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// attempt is one synthesized script and how it ran.
type attempt struct {
	code  string
	res   *executor.Result
	score int
}

// scoreResult rates an execution as the original does: 0 when it fails, 1
// when it runs without a Plotly figure, 2 when it runs and makes figures.
func scoreResult(res *executor.Result) int {
	switch {
	case res == nil || !res.OK:
		return 0
	case len(res.Figures) == 0:
		return 1
	default:
		return 2
	}
}

// deepCodeSynthesis is step 4: the agents' code becomes one script, which
// runs in the chat's kernel (DEEP_EXEC_TIMEOUT) and is repaired with its error
// until it runs and makes figures, at most maxSynthesisTries runs. The best
// script is kept; when every try failed the run fails (EXECUTION_ERROR).
func (s *Service) deepCodeSynthesis(d *deepRun) error {
	t := d.t
	prompt, err := render(s.prompts.deep.codeSynthesis, map[string]any{
		"Datasets": t.datasets, "Goal": d.goal, "Questions": d.numbered(), "Code": combine(d.outs),
	})
	if err != nil {
		return err
	}
	answer, err := s.call(t, "deep_code_synthesizer", prompt, nil)
	if err != nil {
		return err
	}
	code, _, perr := parseAgentAnswer(answer)
	if perr != nil {
		code = combine(d.outs) // the agents' blocks as they are
	}
	best, last, tries := attempt{score: -1}, attempt{}, 0
	for try := 1; ; try++ {
		t.rc.emit(EventAgentCode, eventData{Agent: "deep_code_synthesizer", Code: code, Text: fmt.Sprintf("attempt %d of %d", try, maxSynthesisTries)})
		res, err := s.runDeepCode(d, code)
		if err != nil {
			return err
		}
		a := attempt{code: code, res: res, score: scoreResult(res)}
		last, tries = a, try
		if a.score > best.score {
			best = a
		}
		if a.score == 2 || try == maxSynthesisTries {
			break
		}
		problem := "The script ran without errors but made no Plotly figure: make the charts with Plotly and call fig.show() on each."
		if a.score == 0 {
			problem = describeError(res)
			if res.Error != nil && res.Error.Traceback != "" {
				problem += "\n" + lastLines(res.Error.Traceback, 15)
			}
		}
		t.rc.emit(EventStep, eventData{Agent: "deep_code_synthesizer",
			Text: fmt.Sprintf("attempt %d of %d scored %d of 2 (%s); repairing", try, maxSynthesisTries, a.score, firstLine(problem)), Progress: intp(50)})
		prompt, err := render(s.prompts.deep.codeFix, map[string]any{
			"Datasets": t.datasets, "Goal": d.goal, "Code": code, "Problem": problem,
			"Attempt": try, "MaxAttempts": maxSynthesisTries,
		})
		if err != nil {
			return err
		}
		answer, err := s.call(t, "deep_code_fix", prompt, nil)
		if err != nil {
			return err
		}
		fixed, _, perr := parseAgentAnswer(answer)
		if perr != nil || strings.TrimSpace(fixed) == strings.TrimSpace(code) {
			break // nothing new to run
		}
		code = fixed
	}
	if best.score == 0 {
		// No try ran: a report from the agents' summaries alone would state
		// findings no code produced. The run fails instead.
		return &runError{code: CodeExecutionError,
			msg: fmt.Sprintf("the deep analysis failed: its synthesized script ran in none of %d tries (the last failed with %s), "+
				"so no report was written", tries, describeError(last.res))}
	}
	d.code, d.result = best.code, best.res
	return nil
}

// deepExecTimeout is the limit of a deep analysis's executions
// (DEEP_EXEC_TIMEOUT).
func (s *Service) deepExecTimeout() time.Duration {
	if s.cfg.DeepExecTimeout > 0 {
		return s.cfg.DeepExecTimeout
	}
	return defaultDeepExecTimeout
}

// deepExecute is step 5: the chosen script's output and figures go into the
// report. The synthesis tries already ran it with the deep analysis's own
// limit, so it runs again only when no try produced a result (a redelivered
// run that resumes here).
func (s *Service) deepExecute(d *deepRun) error {
	if d.result != nil {
		return nil
	}
	res, err := s.runDeepCode(d, d.code)
	if err != nil {
		return err
	}
	d.result = res
	return nil
}

// runDeepCode executes code in the chat's kernel with the deep analysis's
// limit; a Python error is a result.
func (s *Service) runDeepCode(d *deepRun, code string) (*executor.Result, error) {
	return s.runCodeWithin(d.t.rc, d.t.rc.user, d.t.chat.ID, d.t.files, code, deepAgent, s.deepExecTimeout())
}

// deepSynthesis is step 6: the findings in prose, streamed.
func (s *Service) deepSynthesis(d *deepRun) error {
	var sums strings.Builder
	for _, o := range d.outs {
		fmt.Fprintf(&sums, "- %s: %s\n", o.agent, strings.Join(strings.Fields(o.summary), " "))
	}
	prompt, err := render(s.prompts.deep.synthesis, map[string]any{
		"Goal": d.goal, "Questions": d.numbered(), "Summaries": strings.TrimRight(sums.String(), "\n"),
		"Output": describeOutput(d.result), "Figures": figureCount(d.result),
	})
	if err != nil {
		return err
	}
	answer, err := s.call(d.t, "deep_synthesizer", prompt, d.streamTo("deep_synthesizer"))
	if err != nil {
		return err
	}
	d.synthesis = strings.TrimSpace(answer)
	d.t.rc.emit(EventAgentFinished, eventData{Agent: "deep_synthesizer", Text: d.synthesis})
	return nil
}

// streamTo emits an LLM call's tokens as TOKEN events of agent.
func (d *deepRun) streamTo(agent string) func(string) {
	return func(chunk string) { d.t.rc.emit(EventToken, eventData{Agent: agent, Text: chunk}) }
}

func figureCount(res *executor.Result) int {
	if res == nil {
		return 0
	}
	return len(res.Figures)
}

// describeOutput is what the script printed, its tables and its error, cut
// to what a prompt can hold.
func describeOutput(res *executor.Result) string {
	if res == nil {
		return "(the script did not run)"
	}
	var b strings.Builder
	b.WriteString(truncate(strings.TrimSpace(res.Stdout), 12000))
	for i, tb := range res.Tables {
		if i == 5 {
			break
		}
		fmt.Fprintf(&b, "\n\nTable %d: %s\n", i+1, strings.Join(tb.Columns, " | "))
		for j, row := range tb.Rows {
			if j == 10 {
				b.WriteString("...\n")
				break
			}
			cells := make([]string, len(row))
			for k, c := range row {
				cells[k] = fmt.Sprint(c)
			}
			b.WriteString(strings.Join(cells, " | ") + "\n")
		}
	}
	if !res.OK {
		b.WriteString("\n\nThe script failed: " + describeError(res))
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		return "(nothing was printed)"
	}
	return out
}

// conclusion is step 7's answer: the whole text, and its three parts.
type conclusion struct {
	text, body           string
	takeaways, nextSteps []string
}

// deepConclusion is step 7: conclusion, key takeaways and next steps,
// streamed.
func (s *Service) deepConclusion(d *deepRun) error {
	prompt, err := render(s.prompts.deep.conclusion, map[string]any{
		"Goal": d.goal, "Questions": d.numbered(), "Synthesis": d.synthesis,
	})
	if err != nil {
		return err
	}
	answer, err := s.call(d.t, "deep_conclusion", prompt, d.streamTo("deep_conclusion"))
	if err != nil {
		return err
	}
	d.conclusion = parseConclusion(answer)
	d.t.rc.emit(EventAgentFinished, eventData{Agent: "deep_conclusion", Text: d.conclusion.text})
	return nil
}

var headingRE = regexp.MustCompile(`(?i)^[#*\s]*(conclusion|key takeaways|takeaways|next steps|recommendations)[*\s]*:?[*\s]*$`)

// parseConclusion splits the conclusion's answer at its headings
// ("Conclusion:", "Key takeaways:", "Next steps:"). Without headings, the
// whole answer is the conclusion.
func parseConclusion(answer string) conclusion {
	c := conclusion{text: strings.TrimSpace(answer)}
	section := "conclusion"
	var body []string
	for _, line := range strings.Split(c.text, "\n") {
		if m := headingRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			switch strings.ToLower(m[1]) {
			case "conclusion":
				section = "conclusion"
			case "key takeaways", "takeaways":
				section = "takeaways"
			default:
				section = "next"
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if section == "conclusion" {
			body = append(body, line)
			continue
		}
		if trimmed == "" {
			continue
		}
		item := strings.TrimSpace(questionPrefixRE.ReplaceAllString(trimmed, ""))
		if section == "takeaways" {
			c.takeaways = append(c.takeaways, item)
		} else {
			c.nextSteps = append(c.nextSteps, item)
		}
	}
	c.body = strings.TrimSpace(strings.Join(body, "\n"))
	return c
}
