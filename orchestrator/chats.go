package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// maxTitleLen bounds a chat's title, in characters.
const maxTitleLen = 200

// RenameChat sets the title of one of the viewer's chats (trimmed, 1 to 200
// characters). Another user's chat is not found.
func (s *Service) RenameChat(ctx context.Context, chatID, title string) (*ent.Chat, error) {
	t := strings.TrimSpace(title)
	if t == "" || utf8.RuneCountInString(t) > maxTitleLen {
		return nil, errcode.Field("title", "must be 1 to %d characters", maxTitleLen)
	}
	c, err := s.cfg.DB.Chat.UpdateOneID(chatID).SetTitle(t).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("rename chat %s: %w", chatID, err)
	}
	return c, nil
}

// DeleteChat deletes one of the viewer's chats with its messages, runs and
// code executions; its usage rows stay, without the chat, for accounting.
// Runs still queued or running are cancelled first.
func (s *Service) DeleteChat(ctx context.Context, chatID string) error {
	// Privacy: another user's chat is not found.
	c, err := s.cfg.DB.Chat.Get(ctx, chatID)
	if err != nil {
		return fmt.Errorf("load chat %s: %w", chatID, err)
	}
	return s.deleteChats(ctx, []*ent.Chat{c})
}

// DeleteEmptyChats deletes the viewer's chats that have no message and
// returns how many it deleted.
func (s *Service) DeleteEmptyChats(ctx context.Context) (int, error) {
	cs, err := s.cfg.DB.Chat.Query().Where(chat.Not(chat.HasMessages())).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("list empty chats: %w", err)
	}
	if err := s.deleteChats(ctx, cs); err != nil {
		return 0, err
	}
	return len(cs), nil
}

func (s *Service) deleteChats(ctx context.Context, cs []*ent.Chat) error {
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	live, err := s.cfg.DB.Run.Query().
		Where(run.ChatIDIn(ids...), run.StatusIn(run.StatusQUEUED, run.StatusRUNNING)).IDs(ctx)
	if err != nil {
		return fmt.Errorf("list the chats' runs: %w", err)
	}
	for _, id := range live {
		// A worker that holds the run stops at its next heartbeat and finds
		// the run gone.
		if _, err := s.cfg.Broker.Cancel(ctx, id); err != nil && !errors.Is(err, broker.ErrJobNotFound) {
			return fmt.Errorf("cancel run %s: %w", id, err)
		}
	}
	if _, err := s.cfg.DB.Chat.Delete().Where(chat.IDIn(ids...)).Exec(ctx); err != nil {
		return fmt.Errorf("delete chats: %w", err)
	}
	return nil
}
