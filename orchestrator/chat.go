package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/message"
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
	t, err := s.newTurn(rc)
	if err != nil {
		return err
	}
	c, files := t.chat, t.files
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
			agent, blamed := blame(code, res.Error)
			if agent != "" {
				failedAgents[agent] = true
			}
			if attempt >= s.cfg.MaxFixAttempts || agent == "" {
				break
			}
			fixed, c, err := s.fix(t, blamed, agent, res)
			if err != nil {
				return err
			}
			if fixed == blamed {
				break
			}
			code, lastFix = fixed, c
		}
	}
	m, stored, err := s.storeAnswer(t, plan, outs, initial, code, res, failedAgents, errorMessages)
	if err != nil {
		return err
	}
	if res == nil || !res.OK {
		lastFix = nil
	}
	var used []agentOutput // the agents' uses are counted once, with the answer stored now
	if stored {
		used = outs
	}
	s.afterAnswer(t, m, lastFix, used)
	return nil
}

// newTurn reads what a chat turn starts from: the chat and its datasets,
// the run's model (stored on the run), the chat's memory and the agents the
// user may use. The reads are independent and go to the database side by
// side: on a networked database a turn waits for the longest of them (three
// round trips) rather than for all of them (about nine) in a row. The first
// failure in that order is the turn's.
func (s *Service) newTurn(rc *runContext) (*turn, error) {
	t := &turn{rc: rc}
	var chatErr, modelErr, agentsErr error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		t.chat, t.files, chatErr = s.chatDatasets(rc)
	}()
	go func() {
		defer wg.Done()
		if t.model, modelErr = s.runModel(rc); modelErr == nil {
			s.recordModel(rc, t.model)
		}
	}()
	go func() {
		defer wg.Done()
		t.agents, agentsErr = s.turnAgents(rc)
	}()
	if rc.run.ChatID != nil {
		t.memory = s.memory(rc, *rc.run.ChatID)
	}
	wg.Wait()
	if chatErr != nil {
		return nil, chatErr
	}
	if modelErr != nil {
		return nil, modelErr
	}
	if agentsErr != nil {
		return nil, agentsErr
	}
	t.provider = s.metered(t.model.Provider)
	t.datasets = describeDatasets(t.chat.Edges.Datasets)
	return t, nil
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

// Chat memory, as the original: the last 3 exchanges, 500 characters each.
const (
	memoryExchanges = 3
	memoryChars     = 500
)

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

// block is one agent's part of a combined program.
type block struct {
	agent string
	code  string
}

var blockStartRE = regexp.MustCompile(`^# (\w+) code start\s*$`)

// combine joins the agents' code in plan order, each block between
// "# <agent> code start" and "# <agent> code end" markers, so that an error
// can be traced to its agent.
func combine(outs []agentOutput) string {
	var blocks []block
	for _, o := range outs {
		if o.code != "" {
			blocks = append(blocks, block{agent: o.agent, code: o.code})
		}
	}
	return joinBlocks(blocks)
}

func joinBlocks(blocks []block) string {
	var b strings.Builder
	for i, bl := range blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("# " + bl.agent + " code start\n")
		b.WriteString(strings.TrimRight(bl.code, "\n"))
		b.WriteString("\n# " + bl.agent + " code end")
	}
	return b.String()
}

// splitBlocks is the inverse of joinBlocks. Code outside markers becomes a
// block with no agent.
func splitBlocks(code string) []block {
	var out []block
	var cur *block
	var loose []string
	for _, line := range strings.Split(code, "\n") {
		if m := blockStartRE.FindStringSubmatch(line); m != nil && cur == nil {
			if len(loose) > 0 {
				out = append(out, block{code: strings.Join(loose, "\n")})
				loose = nil
			}
			cur = &block{agent: m[1]}
			continue
		}
		if cur != nil && strings.TrimSpace(line) == "# "+cur.agent+" code end" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		if cur != nil {
			if cur.code != "" {
				cur.code += "\n"
			}
			cur.code += line
		} else if strings.TrimSpace(line) != "" {
			loose = append(loose, line)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	if len(loose) > 0 {
		out = append(out, block{code: strings.Join(loose, "\n")})
	}
	return out
}

// storeAnswer writes the assistant message and its code execution (with res,
// what the latest code produced), once per run even when the job is
// delivered again, and returns the message and whether it was stored now
// (false: by an earlier delivery). When code ran, the interpreter
// writes the answer's text from what it produced; when it fails, the agents'
// summaries do (logged).
func (s *Service) storeAnswer(t *turn, plan *Plan, outs []agentOutput, initial, latest string, res *executor.Result,
	failed map[string]bool, errorMessages []string) (*ent.Message, bool, error) {
	rc := t.rc
	ctx := rc.user
	existing, err := s.cfg.DB.Message.Query().
		Where(message.RunID(rc.run.ID), message.SenderEQ(message.SenderAI)).First(ctx)
	if err == nil {
		rc.emit(EventMessage, eventData{MessageID: existing.ID, Text: existing.Content})
		return existing, false, nil
	}
	if !ent.IsNotFound(err) {
		return nil, false, fmt.Errorf("look up answer: %w", err)
	}
	interpreted := ""
	if res != nil {
		in, err := s.interpret(t, plan, res)
		switch {
		case err == nil:
			interpreted = in.text
		case ctx.Err() != nil:
			return nil, false, ctx.Err()
		default:
			s.runLog(ctx, rc.run.ID).Warn().Err(err).Msg("the interpreter failed; the agents' summaries answer")
			rc.emit(EventStep, eventData{Agent: interpreterStep, Text: "the interpreter failed; the agents' summaries answer"})
		}
	}
	content := composeAnswer(outs, interpreted, latest, res)
	tx, err := s.cfg.DB.Tx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("begin: %w", err)
	}
	m, err := tx.Message.Create().SetUserID(rc.run.UserID).SetChatID(t.chat.ID).
		SetSender(message.SenderAI).SetContent(content).SetRunID(rc.run.ID).Save(ctx)
	if err != nil {
		tx.Rollback()
		return nil, false, fmt.Errorf("store answer: %w", err)
	}
	if err := attachFiles(ctx, tx, rc, m.ID); err != nil {
		tx.Rollback()
		return nil, false, err
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
			return nil, false, fmt.Errorf("store code execution: %w", err)
		}
	}
	if err := tx.Chat.Update().Where(chat.ID(t.chat.ID)).SetUpdatedAt(time.Now()).Exec(ctx); err != nil {
		tx.Rollback()
		return nil, false, fmt.Errorf("touch chat: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit answer: %w", err)
	}
	rc.emit(EventMessage, eventData{MessageID: m.ID, Text: content})
	return m, true, nil
}

// countUses counts one use of each agent of a run's answer, once the answer
// is stored (so a run delivered again does not count its agents twice: see
// chatTurn).
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

// composeAnswer is the assistant message in Markdown: the interpreter's
// answer (interpreted) when there is one, else the agents' summaries, then
// the code and what it produced. With an interpreter's answer, only the
// agents that wrote no code (basic_qa_agent) add their summaries.
func composeAnswer(outs []agentOutput, interpreted, code string, res *executor.Result) string {
	var b strings.Builder
	if interpreted != "" {
		b.WriteString(interpreted + "\n\n")
	}
	for _, o := range outs {
		if o.summary == "" || (interpreted != "" && (o.code != "" || o.failed)) {
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
