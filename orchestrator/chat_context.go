package orchestrator

import (
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
)

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
