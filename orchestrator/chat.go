package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// SendMessage stores the viewer's message in a chat and starts a chat run.
func (s *Service) SendMessage(ctx context.Context, chatID, content string) (*ent.Run, error) {
	if len(content) == 0 || len(content) > maxInputBytes {
		return nil, errcode.Field("content", "must be 1 to %d bytes", maxInputBytes)
	}
	return s.start(ctx, run.KindCHAT, chatID, runInput{Content: content}, content)
}

// agentOutput is what one agent produced.
type agentOutput struct {
	agent   string
	code    string
	summary string
	failed  bool
}

// turn is the state of one chat turn.
type turn struct {
	rc       *runContext
	chat     *ent.Chat
	files    []executor.Dataset
	model    *modelsetting.Choice
	provider llm.Provider
	datasets string
	memory   string
	question string
	agents   *agentSet
}

// chatTurn is the CHAT run: route (mentions or planner), agents, execution
// with repairs, and the stored answer.
func (s *Service) chatTurn(rc *runContext) error {
	c, files, err := s.chatDatasets(rc)
	if err != nil {
		return err
	}
	mc, err := s.runModel(rc)
	if err != nil {
		return err
	}
	s.recordModel(rc, mc)
	t := &turn{
		rc: rc, chat: c, files: files, model: mc,
		provider: s.metered(mc.Provider),
		datasets: describeDatasets(c.Edges.Datasets),
		memory:   s.memory(rc, c.ID),
	}
	if t.agents, err = s.turnAgents(rc); err != nil {
		return err
	}
	agents, question := t.agents.mentions(rc.in.Content)
	t.question = question
	var plan *Plan
	if len(agents) > 0 {
		plan = &Plan{Complexity: "direct"}
		for _, a := range agents {
			plan.Steps = append(plan.Steps, PlanStep{Agent: a, Create: []string{}, Use: []string{}})
		}
	} else if plan, err = s.plan(t); err != nil {
		return err
	}
	rc.emit(EventPlan, eventData{Plan: plan})

	outs, err := s.runSteps(t, plan.Steps)
	if err != nil {
		return err
	}
	code := combine(outs)
	var res *executor.Result
	initial := code
	failedAgents := map[string]bool{}
	var errorMessages []string
	for _, o := range outs {
		if o.failed {
			failedAgents[o.agent] = true
		}
	}
	var lastFix *correction // the repair that made the code run, if one did
	if code != "" {
		for attempt := 0; ; attempt++ {
			res, err = s.runCode(rc, rc.user, c.ID, files, code, "")
			if err != nil {
				return err
			}
			if res.OK {
				break
			}
			lastFix = nil
			errorMessages = append(errorMessages, describeError(res))
			agent := ""
			if res.Error != nil {
				agent = res.Error.Agent
			}
			if agent != "" {
				failedAgents[agent] = true
			}
			if attempt >= s.cfg.MaxFixAttempts || agent == "" {
				break
			}
			fixed, c, err := s.fix(t, code, agent, res)
			if err != nil {
				return err
			}
			if fixed == code {
				break
			}
			code, lastFix = fixed, c
		}
	}
	m, err := s.storeAnswer(t, outs, initial, code, res, failedAgents, errorMessages)
	if err != nil {
		return err
	}
	if res == nil || !res.OK {
		lastFix = nil
	}
	s.afterAnswer(t, m, lastFix)
	return nil
}

// runSteps writes every step's code, each step as soon as the steps whose
// variables it uses are written (their code goes into its prompt), so that
// independent agents run in parallel. The outputs keep plan order.
func (s *Service) runSteps(t *turn, steps []PlanStep) ([]agentOutput, error) {
	deps := dependencies(steps)
	outs := make([]agentOutput, len(steps))
	done := make([]chan struct{}, len(steps))
	for i := range done {
		done[i] = make(chan struct{})
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			var before []agentOutput
			for _, j := range deps[i] {
				<-done[j]
				if errs[j] != nil {
					errs[i] = errDependencyFailed
					return
				}
				before = append(before, outs[j])
			}
			outs[i], errs[i] = s.runAgent(t, st, before)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, errDependencyFailed) {
			return nil, err
		}
	}
	return outs, nil
}

// errDependencyFailed marks a step not written because a step it depends on
// failed (that step's error is the one reported).
var errDependencyFailed = errors.New("a step this one depends on failed")

// runAgent asks one agent for its code and summary, streaming its tokens.
func (s *Service) runAgent(t *turn, st PlanStep, before []agentOutput) (agentOutput, error) {
	rc := t.rc
	a := t.agents.agents[st.Agent]
	rc.emit(EventAgentStarted, eventData{Agent: a.Name, Text: st.Instruction})
	var prompt string
	var err error
	if !a.WritesCode {
		prompt, err = render(s.prompts.basicQA, map[string]any{"Memory": t.memory, "Question": t.question})
	} else {
		prompt, err = render(s.prompts.agent, map[string]any{
			"Role": a.role, "Datasets": t.datasets, "Memory": t.memory, "Question": t.question,
			"Instruction": st.Instruction, "Create": strings.Join(st.Create, ", "), "Use": strings.Join(st.Use, ", "),
			"Before": combine(before),
		})
	}
	if err != nil {
		return agentOutput{}, err
	}
	answer, err := s.call(t, a.Name, prompt, func(chunk string) {
		rc.emit(EventToken, eventData{Agent: a.Name, Text: chunk})
	})
	if err != nil {
		return agentOutput{}, err
	}
	out := agentOutput{agent: a.Name}
	if !a.WritesCode {
		out.summary = strings.TrimSpace(answer)
		rc.emit(EventAgentFinished, eventData{Agent: a.Name, Text: out.summary})
		return out, nil
	}
	code, summary, perr := parseAgentAnswer(answer)
	out.code, out.summary = code, summary
	if perr != nil {
		out.failed = true
		msg := fmt.Sprintf("%s: %v", a.Name, perr)
		rc.emit(EventAgentFinished, eventData{Agent: a.Name, Text: msg, ErrorCode: CodeModelError})
		return out, nil
	}
	rc.emit(EventAgentCode, eventData{Agent: a.Name, Code: code})
	rc.emit(EventAgentFinished, eventData{Agent: a.Name, Text: summary})
	return out, nil
}

// fix asks the code-fix prompt to repair the failing agent's block, showing
// it the chat's earlier corrections. It returns the whole code and, when the
// block changed, the correction.
func (s *Service) fix(t *turn, code, agent string, res *executor.Result) (string, *correction, error) {
	blocks := splitBlocks(code)
	idx := -1
	for i, b := range blocks {
		if b.agent == agent {
			idx = i
		}
	}
	if idx < 0 {
		return code, nil, nil
	}
	errText := describeError(res)
	if res.Error != nil && res.Error.Traceback != "" {
		errText += "\n" + lastLines(res.Error.Traceback, 15)
	}
	t.rc.emit(EventStep, eventData{Agent: agent, Text: "repairing " + agent + " after: " + describeError(res)})
	prompt, err := render(s.prompts.fix, map[string]any{
		"Datasets": t.datasets, "Agent": agent, "Code": blocks[idx].code, "Error": errText, "Lessons": s.lessons(t),
	})
	if err != nil {
		return "", nil, err
	}
	answer, err := s.call(t, "code_fix", prompt, nil)
	if err != nil {
		return "", nil, err
	}
	fixed, _, perr := parseAgentAnswer(answer)
	if perr != nil {
		return code, nil, nil
	}
	c := &correction{agent: agent, err: errText, failed: blocks[idx].code, fixed: fixed}
	blocks[idx].code = fixed
	t.rc.emit(EventAgentCode, eventData{Agent: agent, Code: fixed, Text: "repaired"})
	return joinBlocks(blocks), c, nil
}
