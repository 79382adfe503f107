package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// Chat memory, as the original: the last 3 exchanges, 500 characters each.
const (
	memoryExchanges = 3
	memoryChars     = 500
)

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

// recordModel stores on the run the model settings its LLM calls use (what
// feedback on the answer refers to).
func (s *Service) recordModel(rc *runContext, mc *modelsetting.Choice) {
	provider := ""
	if mc.Provider != nil {
		provider = mc.Provider.Name()
	}
	err := s.cfg.DB.Run.UpdateOneID(rc.run.ID).SetModelProvider(provider).SetModelName(mc.Model).
		SetModelTemperature(mc.Temperature).SetModelMaxTokens(mc.MaxTokens).
		Exec(privacy.DecisionContext(rc.user, privacy.Allow))
	if err != nil {
		s.runLog(rc.user, rc.run.ID).Warn().Err(err).Msg("store the run's model settings")
	}
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

// call makes one LLM call for a step of the turn, on the step's model
// (callModel). Every call is streamed, so that the provider reports the
// tokens of an answer that breaks off; onToken (nil: none) receives the
// chunks.
func (s *Service) call(t *turn, step, prompt string, onToken func(string)) (string, error) {
	if onToken == nil {
		onToken = func(string) {}
	}
	chatID := ""
	if t.chat != nil {
		chatID = t.chat.ID
	}
	ctx := withUsageMeta(t.rc.user, usageMeta{userID: t.rc.run.UserID, chatID: chatID, runID: t.rc.run.ID, step: step})
	provider, model, temperature, maxTokens := s.callModel(t, step)
	resp, err := provider.Generate(ctx, llm.Request{
		Model:       model,
		Messages:    []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		Temperature: temperature,
		MaxTokens:   maxTokens,
		OnToken:     onToken,
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if errors.Is(err, llm.ErrNotConfigured) {
			return "", err
		}
		return "", &runError{code: CodeModelError, msg: fmt.Sprintf("the model failed at step %s: %v", step, err), err: err}
	}
	return resp.Content, nil
}

// storeAnswer writes the assistant message and its code execution (with res,
// what the latest code produced), once per run even when the job is
// delivered again, and returns the message.
func (s *Service) storeAnswer(t *turn, outs []agentOutput, initial, latest string, res *executor.Result,
	failed map[string]bool, errorMessages []string) (*ent.Message, error) {
	rc := t.rc
	ctx := rc.user
	content := composeAnswer(outs, latest, res)
	existing, err := s.cfg.DB.Message.Query().
		Where(message.RunID(rc.run.ID), message.SenderEQ(message.SenderAI)).First(ctx)
	if err == nil {
		rc.emit(EventMessage, eventData{MessageID: existing.ID, Text: existing.Content})
		return existing, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("look up answer: %w", err)
	}
	tx, err := s.cfg.DB.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	m, err := tx.Message.Create().SetUserID(rc.run.UserID).SetChatID(t.chat.ID).
		SetSender(message.SenderAI).SetContent(content).SetRunID(rc.run.ID).Save(ctx)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("store answer: %w", err)
	}
	if initial != "" {
		var fa []string
		for a := range failed {
			fa = append(fa, a)
		}
		ce := tx.CodeExecution.Create().SetUserID(rc.run.UserID).SetChatID(t.chat.ID).
			SetMessageID(m.ID).SetRunID(rc.run.ID).
			SetInitialCode(initial).SetLatestCode(latest).
			SetModelProvider(t.model.Provider.Name()).SetModelName(t.model.Model).
			SetModelTemperature(t.model.Temperature).SetModelMaxTokens(t.model.MaxTokens).
			SetFailedAgents(fa).SetErrorMessages(errorMessages)
		if res != nil {
			// What the latest code produced, for a reopened chat.
			ce.SetOutput(res.Stdout).SetIsSuccessful(res.OK).SetResult(s.encodeResult(res))
		}
		if err = ce.Exec(ctx); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("store code execution: %w", err)
		}
	}
	if _, err := tx.Chat.UpdateOneID(t.chat.ID).SetUpdatedAt(time.Now()).Save(ctx); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("touch chat: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit answer: %w", err)
	}
	rc.emit(EventMessage, eventData{MessageID: m.ID, Text: content})
	s.countUses(rc, outs)
	return m, nil
}

// countUses counts one use of each agent of a run's answer, once the answer
// is stored (so a run delivered again does not count its agents twice).
func (s *Service) countUses(rc *runContext, outs []agentOutput) {
	if s.cfg.Templates == nil {
		return
	}
	for _, o := range outs {
		if err := s.cfg.Templates.RecordUse(rc.user, rc.run.UserID, o.agent); err != nil {
			s.runLog(rc.user, rc.run.ID).Warn().Err(err).Msg("count template use")
		}
	}
}

// memory returns the chat's last exchanges before this run: each question
// and each answer's summary (the answer itself, cut, until it has one), at
// most memoryChars each.
func (s *Service) memory(rc *runContext, chatID string) string {
	msgs, err := s.cfg.DB.Message.Query().
		Where(message.ChatID(chatID), message.Or(message.RunIDIsNil(), message.RunIDNEQ(rc.run.ID))).
		Order(ent.Desc(message.FieldCreatedAt), ent.Desc(message.FieldID)).
		Limit(memoryExchanges * 2).
		All(rc.user)
	if err != nil || len(msgs) == 0 {
		return ""
	}
	var b strings.Builder
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		who := "User"
		if m.Sender == message.SenderAI {
			who = "Assistant"
		}
		text := m.Content
		if m.Summary != "" {
			text = m.Summary
		}
		fmt.Fprintf(&b, "%s: %s\n", who, truncate(text, memoryChars))
	}
	return b.String()
}

// describeDatasets tells the model what the datasets are.
func describeDatasets(ds []*ent.Dataset) string {
	if len(ds) == 0 {
		return "(no dataset is loaded)"
	}
	var b strings.Builder
	for i, d := range ds {
		alias := ""
		if i == 0 {
			alias = " (also available as df)"
		}
		fmt.Fprintf(&b, "- %s%s: %d rows, from %s", d.Name, alias, d.RowCount, d.FileName)
		if d.Description != "" {
			fmt.Fprintf(&b, "; %s", truncate(d.Description, 300))
		}
		b.WriteString("\n  columns: ")
		for j, c := range d.Columns {
			if j > 0 {
				b.WriteString(", ")
			}
			if j == 60 {
				fmt.Fprintf(&b, "... (%d more)", len(d.Columns)-60)
				break
			}
			fmt.Fprintf(&b, "%s (%s", c.Name, c.Dtype)
			if c.NullCount > 0 {
				fmt.Fprintf(&b, ", %d missing", c.NullCount)
			}
			b.WriteString(")")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// composeAnswer is the assistant message in Markdown.
func composeAnswer(outs []agentOutput, code string, res *executor.Result) string {
	var b strings.Builder
	for _, o := range outs {
		if o.summary == "" {
			continue
		}
		if len(outs) > 1 || o.code != "" {
			fmt.Fprintf(&b, "### %s\n\n", o.agent)
		}
		b.WriteString(o.summary)
		b.WriteString("\n\n")
	}
	if code != "" {
		b.WriteString("```python\n" + code + "\n```\n\n")
	}
	if res != nil {
		if out := strings.TrimSpace(res.Stdout); out != "" {
			b.WriteString("Output:\n\n```\n" + truncate(out, 20000) + "\n```\n\n")
		}
		if !res.OK {
			b.WriteString("The code failed: " + describeError(res) + "\n")
		}
		if n := len(res.Figures); n > 0 {
			fmt.Fprintf(&b, "%d chart(s) were produced.\n", n)
		}
	}
	return strings.TrimSpace(b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// usageMeta says what an LLM call was for, so that its usage row can say so.
type usageMeta struct {
	userID, chatID, runID, step string
}

type usageKey struct{}

func withUsageMeta(ctx context.Context, m usageMeta) context.Context {
	return context.WithValue(ctx, usageKey{}, m)
}

// recordUsage writes one ModelUsage row per LLM call.
func (s *Service) recordUsage(ctx context.Context, u llm.Usage, callErr error) {
	m, ok := ctx.Value(usageKey{}).(usageMeta)
	if !ok {
		s.cfg.Logger.Error().Msg("LLM call without usage metadata; usage not recorded")
		return
	}
	sys := privacy.DecisionContext(context.WithoutCancel(ctx), privacy.Allow)
	row := func(chatID, runID *string) *ent.ModelUsageCreate {
		c := s.cfg.DB.ModelUsage.Create().
			SetUserID(m.userID).SetNillableChatID(chatID).SetNillableRunID(runID).SetStep(m.step).
			SetModelName(u.Model).SetProvider(u.Provider).
			SetPromptTokens(u.InputTokens).SetCompletionTokens(u.OutputTokens).
			SetTotalTokens(u.InputTokens + u.OutputTokens).
			SetCost(u.CostUSD).SetIsStreaming(u.Streamed).SetQuerySize(u.QueryChars).SetResponseSize(u.ResponseChars).
			SetRequestTimeMs(int(u.Duration / time.Millisecond))
		if callErr != nil {
			c.SetError(truncate(callErr.Error(), 2000))
		}
		return c
	}
	err := row(nonEmpty(m.chatID), nonEmpty(m.runID)).Exec(sys)
	if err != nil && ent.IsConstraintError(err) {
		// The chat or run was deleted while the call ran: the row stays
		// for accounting, without them.
		err = row(nil, nil).Exec(sys)
	}
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("run", m.runID).Msg("record model usage")
	}
}
