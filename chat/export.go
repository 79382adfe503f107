package chat

import (
	"context"
	"fmt"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	entchat "github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/export"
)

// Export renders one of the viewer's chats, with all its messages and what
// their code produced, in format f (see package export). Another user's
// chat is NOT_FOUND.
func (s *Service) Export(ctx context.Context, chatID string, f export.Format) (*export.File, error) {
	if _, err := viewer.Require(ctx); err != nil {
		return nil, err
	}
	if f != export.FormatNotebook && f != export.FormatMarkdown {
		return nil, errcode.Field("format", "must be NOTEBOOK or MARKDOWN")
	}
	// Privacy: another user's chat is not found.
	c, err := s.db.Chat.Query().Where(entchat.ID(chatID)).
		WithDatasets(func(q *ent.DatasetQuery) {
			q.Order(ent.Asc(dataset.FieldCreatedAt), ent.Asc(dataset.FieldID))
		}).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "chat not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load chat %s: %w", chatID, err)
	}
	msgs, err := s.db.Message.Query().Where(message.ChatID(c.ID)).
		Order(ent.Asc(message.FieldCreatedAt), ent.Asc(message.FieldID)).
		WithCodeExecution().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the messages of chat %s: %w", chatID, err)
	}
	file, err := export.Render(c, msgs, f)
	if err != nil {
		return nil, fmt.Errorf("export chat %s: %w", chatID, err)
	}
	return file, nil
}
