package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
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

// maxChatDatasets bounds the datasets of one chat.
const maxChatDatasets = 20

// AddDatasets adds some of the viewer's datasets to one of the viewer's
// chats; datasets it already has are ignored. Another user's chat or dataset
// is not found.
func (s *Service) AddDatasets(ctx context.Context, chatID string, datasetIDs []string) (*ent.Chat, error) {
	c, err := s.cfg.DB.Chat.Get(ctx, chatID)
	if err != nil {
		return nil, fmt.Errorf("load chat %s: %w", chatID, err)
	}
	ids := map[string]bool{}
	for _, id := range datasetIDs {
		ids[id] = true
	}
	want := make([]string, 0, len(ids))
	for id := range ids {
		want = append(want, id)
	}
	// Privacy filters to the viewer's datasets: another user's is not found.
	n, err := s.cfg.DB.Dataset.Query().Where(dataset.IDIn(want...)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("look up datasets: %w", err)
	}
	if n != len(want) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "datasetIDs", Message: "dataset not found"}
	}
	have, err := c.QueryDatasets().IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the chat's datasets: %w", err)
	}
	var add []string
	for _, id := range want {
		if !slices.Contains(have, id) {
			add = append(add, id)
		}
	}
	if len(have)+len(add) > maxChatDatasets {
		return nil, errcode.Field("datasetIDs", "a chat has at most %d datasets", maxChatDatasets)
	}
	if len(add) == 0 {
		return c, nil
	}
	slices.Sort(add) // a stable order
	c, err = c.Update().AddDatasetIDs(add...).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("add datasets to chat %s: %w", chatID, err)
	}
	return c, nil
}
