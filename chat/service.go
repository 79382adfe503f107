package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	entchat "github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Runs stops the runs of chats that are deleted (*orchestrator.Service is
// one).
type Runs interface {
	// StopChatRuns cancels the queued and running runs of chats.
	StopChatRuns(ctx context.Context, chatIDs []string) error
}

// Service creates, renames and deletes the viewer's chats, adds datasets to
// them, and records the viewer's feedback on answers. Another user's chat,
// dataset or message is not found. Safe for concurrent use.
type Service struct {
	db   *ent.Client
	runs Runs
}

// New returns a Service on db; runs stops the runs of deleted chats.
func New(db *ent.Client, runs Runs) *Service {
	return &Service{db: db, runs: runs}
}

// maxTitleLen bounds a chat's title: the title column's size, in bytes.
const maxTitleLen = 200

// checkTitle is a chat's title as a user gives it: trimmed, 1 to 200
// characters (bytes, as stored).
func checkTitle(title string) (string, error) {
	t := strings.TrimSpace(title)
	if t == "" || len(t) > maxTitleLen {
		return "", errcode.Field("title", "must be 1 to %d characters", maxTitleLen)
	}
	return t, nil
}

// maxChatDatasets bounds the datasets of one chat.
const maxChatDatasets = 20

// Create creates a chat of the viewer, titled title (nil: the default title,
// until its first question names it), with some of the viewer's datasets.
func (s *Service) Create(ctx context.Context, title *string, datasetIDs []string) (*ent.Chat, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	c := s.db.Chat.Create().SetUserID(v.UserID)
	if title != nil {
		t, err := checkTitle(*title)
		if err != nil {
			return nil, err
		}
		c.SetTitle(t)
	}
	if len(datasetIDs) > maxChatDatasets {
		return nil, errcode.Field("datasetIDs", "at most %d datasets per chat", maxChatDatasets)
	}
	if len(datasetIDs) > 0 {
		ids := uniq(datasetIDs)
		// Privacy filters the query to the viewer's datasets: another user's
		// dataset is simply not found.
		n, err := s.db.Dataset.Query().Where(dataset.IDIn(datasetIDs...)).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up datasets: %w", err)
		}
		if n != len(ids) {
			return nil, &errcode.Error{Code: errcode.NotFound, Field: "datasetIDs", Message: "dataset not found"}
		}
		c.AddDatasetIDs(ids...)
	}
	ch, err := c.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("create chat: %w", err)
	}
	return ch, nil
}

// uniq returns ids trimmed, each once, in their first order.
func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Rename sets the title of one of the viewer's chats (trimmed, 1 to 200
// characters).
func (s *Service) Rename(ctx context.Context, chatID, title string) (*ent.Chat, error) {
	t, err := checkTitle(title)
	if err != nil {
		return nil, err
	}
	c, err := s.db.Chat.UpdateOneID(chatID).SetTitle(t).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("rename chat %s: %w", chatID, err)
	}
	return c, nil
}

// Delete deletes one of the viewer's chats with its messages, runs and
// code executions; its usage rows stay, without the chat, for accounting.
// Runs still queued or running are cancelled first.
func (s *Service) Delete(ctx context.Context, chatID string) error {
	// Privacy: another user's chat is not found.
	c, err := s.db.Chat.Get(ctx, chatID)
	if err != nil {
		return fmt.Errorf("load chat %s: %w", chatID, err)
	}
	return s.deleteChats(ctx, []*ent.Chat{c})
}

// DeleteEmpty deletes the viewer's chats that have no message and returns
// how many it deleted.
func (s *Service) DeleteEmpty(ctx context.Context) (int, error) {
	cs, err := s.db.Chat.Query().Where(entchat.Not(entchat.HasMessages())).All(ctx)
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
	if err := s.runs.StopChatRuns(ctx, ids); err != nil {
		return err
	}
	if _, err := s.db.Chat.Delete().Where(entchat.IDIn(ids...)).Exec(ctx); err != nil {
		return fmt.Errorf("delete chats: %w", err)
	}
	return nil
}

// AddDatasets adds some of the viewer's datasets to one of the viewer's
// chats; datasets it already has are ignored. Another user's chat or dataset
// is not found.
func (s *Service) AddDatasets(ctx context.Context, chatID string, datasetIDs []string) (*ent.Chat, error) {
	c, err := s.db.Chat.Get(ctx, chatID)
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
	n, err := s.db.Dataset.Query().Where(dataset.IDIn(want...)).Count(ctx)
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
