package orchestrator

import (
	"fmt"
	"strings"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/executor"
)

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
