package orchestrator

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"text/template"
	"unicode"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/codeexecution"
	"github.com/autoanalyst/autoanalyst/ent/message"
)

// Bounds of the summaries a chat keeps.
const (
	// correctionChars bounds one summary of an error and its correction.
	correctionChars = 300
	// lessonCount is how many of a chat's corrections a repair is shown.
	lessonCount = 3
)

// correction is one repair of the fix loop: the failing block, its error and
// the code that replaced it.
type correction struct {
	agent, err, failed, fixed string
}

// afterAnswer runs the turn's housekeeping calls side by side once its
// answer m is stored: the chat's name, the answer's memory summary, its
// follow-up questions and, when the fix loop repaired the code, the summary
// of the correction that worked; and it counts a use of each agent of used
// (the answer's agents when it was stored now). Each is skipped when an
// earlier delivery of the run already stored it (the follow-ups on any
// redelivery), and a failure is logged, never the run's: the answer is
// already there.
func (s *Service) afterAnswer(t *turn, m *ent.Message, fixed *correction, used []agentOutput) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.countUses(t.rc, used) }()
	go func() { defer wg.Done(); s.nameChat(t) }()
	go func() { defer wg.Done(); s.summarizeAnswer(t, m) }()
	go func() { defer wg.Done(); s.suggestFollowUps(t, m) }()
	if fixed != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.summarizeCorrection(t, m, fixed) }()
	}
	wg.Wait()
}

// shortAnswer asks step's prompt for a short text (a summary, a title) of at
// most limit characters; "" when the call fails (logged: it is never the
// run's failure).
func (s *Service) shortAnswer(t *turn, step string, tpl *template.Template, data map[string]any, limit int) string {
	prompt, err := render(tpl, data)
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("step", step).Msg("render a summary prompt")
		return ""
	}
	answer, err := s.call(t, step, prompt, nil)
	if err != nil {
		s.runLog(t.rc.user, t.rc.run.ID).Debug().Err(err).Str("step", step).Msg("summarising failed")
		return ""
	}
	return truncate(strings.TrimSpace(answer), limit)
}

// summarizeAnswer stores the memory summary of an answer (at most
// memoryChars), which later turns of the chat read instead of the answer.
func (s *Service) summarizeAnswer(t *turn, m *ent.Message) {
	if m.Summary != "" {
		return
	}
	summary := s.shortAnswer(t, "memory_summary", s.prompts.memory, map[string]any{
		"Question": truncate(t.rc.in.Content, 2000), "Answer": truncate(m.Content, 8000),
	}, memoryChars)
	if summary == "" {
		return
	}
	if err := s.cfg.DB.Message.Update().Where(message.ID(m.ID)).SetSummary(summary).Exec(t.rc.user); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("message", m.ID).Msg("store the answer's summary")
	}
}

// summarizeCorrection stores, on the answer's code execution, what was wrong
// with the code and what fixed it; later repairs in the chat are shown it.
func (s *Service) summarizeCorrection(t *turn, m *ent.Message, c *correction) {
	ctx := t.rc.user
	ce, err := s.cfg.DB.CodeExecution.Query().Where(codeexecution.MessageID(m.ID)).
		Select(codeexecution.FieldID, codeexecution.FieldCorrectionSummary).Only(ctx)
	if err != nil || ce.CorrectionSummary != "" {
		return
	}
	summary := s.shortAnswer(t, "error_summary", s.prompts.correction, map[string]any{
		"Agent": c.agent, "Error": truncate(c.err, 3000), "Failed": truncate(c.failed, 6000), "Fixed": truncate(c.fixed, 6000),
	}, correctionChars)
	if summary == "" {
		return
	}
	if err := s.cfg.DB.CodeExecution.UpdateOneID(ce.ID).SetCorrectionSummary(summary).Exec(ctx); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("execution", ce.ID).Msg("store the correction's summary")
	}
}

// lessons lists the chat's last lessonCount correction summaries, newest
// first, for the code-fix prompts ("" when there are none).
func (s *Service) lessons(t *turn) string {
	ces, err := s.cfg.DB.CodeExecution.Query().
		Where(codeexecution.ChatID(t.chat.ID), codeexecution.CorrectionSummaryNEQ("")).
		Order(ent.Desc(codeexecution.FieldCreatedAt), ent.Desc(codeexecution.FieldID)).
		Limit(lessonCount).
		Select(codeexecution.FieldCorrectionSummary).
		Strings(t.rc.user)
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Str("chat", t.chat.ID).Msg("load the chat's corrections")
		return ""
	}
	var b strings.Builder
	for _, c := range ces {
		b.WriteString("- " + c + "\n")
	}
	return b.String()
}

// DefaultChatTitle is a new chat's title until its first question names it.
const DefaultChatTitle = "New Chat"

// maxTitleWords bounds a chat's automatic title.
const maxTitleWords = 3

// titleFrom makes a title of at most three words of text: letters, digits
// and inner hyphens or apostrophes, at most 60 characters; "" when text has
// no word.
func titleFrom(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '\'' || r == '’')
	})
	var out []string
	for _, w := range words {
		w = strings.Trim(w, "-'’")
		if w == "" {
			continue
		}
		out = append(out, w)
		if len(out) == maxTitleWords {
			break
		}
	}
	title := strings.Join(out, " ")
	if r := []rune(title); len(r) > 60 {
		title = strings.TrimRight(string(r[:60]), " -'’")
	}
	if title != "" {
		r := []rune(title)
		r[0] = unicode.ToUpper(r[0])
		title = string(r)
	}
	return title
}

// provisionalTitle is what a chat is called between its first question and
// the model's name for it: the question's first words (also the title for
// good when no model is configured).
func provisionalTitle(question string) string {
	if t := titleFrom(question); t != "" {
		return t
	}
	return DefaultChatTitle
}

// nameOnFirstMessage gives a chat whose first message this is, and whose
// title is still the default, the provisional title; tx is the transaction
// that stores the message.
func nameOnFirstMessage(ctx context.Context, tx *ent.Tx, chatID, content string) error {
	// One statement: the chat is renamed only while it holds no message.
	return tx.Chat.Update().Where(chat.ID(chatID), chat.Title(DefaultChatTitle), chat.Not(chat.HasMessages())).
		SetTitle(provisionalTitle(content)).Exec(ctx)
}

// nameChat asks the model for the chat's title after its first question,
// unless the title is no longer the provisional one (the user renamed it,
// or an earlier attempt of this run named it). A failure is logged, not
// fatal: the provisional title stays.
func (s *Service) nameChat(t *turn) {
	provisional := provisionalTitle(t.rc.in.Content)
	if t.chat.Title != provisional {
		return
	}
	// Only the turn of the chat's first question names it, even when more
	// questions arrived before this turn ran.
	first, err := s.cfg.DB.Message.Query().Where(message.ChatID(t.chat.ID), message.SenderEQ(message.SenderUSER)).
		Order(ent.Asc(message.FieldCreatedAt), ent.Asc(message.FieldID)).FirstID(t.rc.user)
	if err != nil || t.rc.run.MessageID == nil || first != *t.rc.run.MessageID {
		return
	}
	title := titleFrom(s.shortAnswer(t, "chat_name", s.prompts.name, map[string]any{"Question": truncate(t.rc.in.Content, 2000)}, 200))
	if title == "" || title == provisional {
		return
	}
	err = s.cfg.DB.Chat.Update().Where(chat.ID(t.chat.ID), chat.Title(provisional)).SetTitle(title).Exec(t.rc.user)
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Str("chat", t.chat.ID).Msg("store the chat's title")
	}
}

// Bounds of an answer's suggested follow-up questions.
const (
	maxFollowUps  = 3
	followUpChars = 200
)

// suggestFollowUps asks the followups step for the questions to ask after
// answer m, stores them on it and sends them as a FOLLOW_UPS event. It is
// skipped on a redelivered run and when m has them already; a failure is
// logged, never the run's.
func (s *Service) suggestFollowUps(t *turn, m *ent.Message) {
	if t.rc.attempt > 1 || len(m.FollowUps) > 0 {
		return
	}
	prompt, err := render(s.prompts.followUps, map[string]any{
		"Datasets": t.datasets, "Question": truncate(t.question, 2000), "Answer": truncate(m.Content, 8000),
	})
	if err != nil {
		s.cfg.Logger.Error().Err(err).Msg("render the follow-ups prompt")
		return
	}
	answer, err := s.call(t, "followups", prompt, nil)
	if err != nil {
		s.runLog(t.rc.user, t.rc.run.ID).Debug().Err(err).Msg("suggesting follow-up questions failed")
		return
	}
	qs := parseFollowUps(answer)
	if len(qs) == 0 {
		return
	}
	// Update, not UpdateOne: no row read back, no transaction of its own
	// (three round trips fewer before the run's end).
	if err := s.cfg.DB.Message.Update().Where(message.ID(m.ID)).SetFollowUps(qs).Exec(t.rc.user); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("message", m.ID).Msg("store the follow-up questions")
		return
	}
	t.rc.emit(EventFollowUps, eventData{MessageID: m.ID, FollowUps: qs})
}

// parseFollowUps reads the model's follow-up questions: a JSON list of
// strings (in a code fence or not), else one question a line (bullets and
// numbers dropped). It keeps at most maxFollowUps distinct questions of at
// most followUpChars each.
func parseFollowUps(answer string) []string {
	var raw []string
	if i, j := strings.Index(answer, "["), strings.LastIndex(answer, "]"); i >= 0 && j > i {
		if json.Unmarshal([]byte(answer[i:j+1]), &raw) != nil {
			raw = nil
		}
	}
	if raw == nil {
		for _, line := range strings.Split(answer, "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "```") {
				continue
			}
			raw = append(raw, line)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, q := range raw {
		q = strings.TrimSpace(listMarkerRE.ReplaceAllString(q, ""))
		q = strings.TrimLeft(q, "-*• ")
		q = strings.TrimSpace(strings.Trim(q, `"'`))
		if q == "" || seen[strings.ToLower(q)] {
			continue
		}
		seen[strings.ToLower(q)] = true
		out = append(out, truncate(q, followUpChars))
		if len(out) == maxFollowUps {
			break
		}
	}
	return out
}
