package chat

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/codeexecution"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/messagefeedback"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// maxCommentLen bounds a feedback comment, in characters.
const maxCommentLen = 2000

// RateMessage records the viewer's rating (1 to 5) of an answer in one of
// their chats, with the model settings the answer was made with. Rating a
// message again replaces the earlier rating.
func (s *Service) RateMessage(ctx context.Context, messageID string, rating int, comment string) (*ent.MessageFeedback, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	if rating < 1 || rating > 5 {
		return nil, errcode.Field("rating", "must be 1 to 5, got %d", rating)
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > maxCommentLen {
		return nil, errcode.Field("comment", "must be at most %d characters", maxCommentLen)
	}
	// Privacy: another user's message is not found.
	m, err := s.db.Message.Query().Where(message.ID(messageID)).
		WithCodeExecution(func(q *ent.CodeExecutionQuery) { // its model settings, not its (large) result
			q.Select(codeexecution.FieldModelProvider, codeexecution.FieldModelName,
				codeexecution.FieldModelTemperature, codeexecution.FieldModelMaxTokens)
		}).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "messageID", Message: "message not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load message %s: %w", messageID, err)
	}
	if m.Sender != message.SenderAI {
		return nil, errcode.Field("messageID", "only answers (sender AI) can be rated")
	}
	c := s.db.MessageFeedback.Create().SetUserID(v.UserID).SetMessageID(m.ID).
		SetRating(rating).SetComment(comment)
	provider, model, temp, maxTok := s.answeredWith(ctx, m)
	c.SetModelProvider(provider).SetModelName(model).SetTemperature(temp).SetMaxTokens(maxTok)
	id, err := c.OnConflictColumns(messagefeedback.FieldUserID, messagefeedback.FieldMessageID).
		UpdateRating().UpdateComment().UpdateModelProvider().UpdateModelName().UpdateTemperature().
		UpdateMaxTokens().UpdateUpdatedAt().ID(ctx)
	if err != nil {
		return nil, fmt.Errorf("store feedback on %s: %w", messageID, err)
	}
	return s.db.MessageFeedback.Get(ctx, id)
}

// answeredWith returns the model settings an answer was made with: those its
// run recorded (temperature 1 for a reasoning model, for which the run
// records none), else those of its code execution.
func (s *Service) answeredWith(ctx context.Context, m *ent.Message) (provider, model string, temperature float64, maxTokens int) {
	if m.RunID != nil {
		r, err := s.db.Run.Get(ctx, *m.RunID)
		if err == nil && r.ModelName != nil {
			provider, model = deref(r.ModelProvider), *r.ModelName
			// A run records no temperature for a reasoning model: it uses its own, 1.
			temperature = 1
			if r.ModelTemperature != nil {
				temperature = *r.ModelTemperature
			}
			if r.ModelMaxTokens != nil {
				maxTokens = *r.ModelMaxTokens
			}
			return
		}
	}
	if ce := m.Edges.CodeExecution; ce != nil {
		return ce.ModelProvider, ce.ModelName, ce.ModelTemperature, ce.ModelMaxTokens
	}
	return "", "", 0, 0
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
