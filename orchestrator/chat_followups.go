package orchestrator

import (
	"encoding/json"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
)

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
	if err := s.cfg.DB.Message.UpdateOneID(m.ID).SetFollowUps(qs).Exec(t.rc.user); err != nil {
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
