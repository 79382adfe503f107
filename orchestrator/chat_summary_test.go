package orchestrator

import (
	"context"
	"fmt"
	"testing"

	"github.com/autoanalyst/autoanalyst/ent/message"
)

func TestTitleFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Which city has the highest prices? Chart it.", "Which city has"},
		{`"House Price Drivers"`, "House Price Drivers"},
		{"  sales   by\nregion  ", "Sales by region"},
		{"**Churn Analysis**.", "Churn Analysis"},
		{"year-over-year growth, please", "Year-over-year growth please"},
		{"what's the median", "What's the median"},
		{"???", ""},
		{"", ""},
		{"Übersicht der Verkäufe 2024 im Detail", "Übersicht der Verkäufe"},
		{"Supercalifragilisticexpialidocious-and-then-some-more-words-in-one-token-of-sixty-plus", "Supercalifragilisticexpialidocious-and-then-some-more-words"},
	}
	for _, tc := range tests {
		if got := titleFrom(tc.in); got != tc.want {
			t.Errorf("titleFrom(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := provisionalTitle("?!"); got != DefaultChatTitle {
		t.Errorf("provisionalTitle of no words = %q", got)
	}
}

// TestNameOnFirstMessage: the provisional title goes to a chat that still
// has its default title and no message, in the message's transaction.
func TestNameOnFirstMessage(t *testing.T) {
	for _, pg := range []bool{false, true} {
		db := openTestDB(t, pg)
		ctx := system(context.Background())
		u, err := db.User.Create().Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, title string
			messages    int
			want        string
		}{
			{"first message", DefaultChatTitle, 0, "Revenue by region"},
			{"a chat with messages", DefaultChatTitle, 1, DefaultChatTitle},
			{"renamed by its user", "Mine", 0, "Mine"},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("postgres=%v/%s", pg, tc.name), func(t *testing.T) {
				c, err := db.Chat.Create().SetUserID(u.ID).SetTitle(tc.title).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for range tc.messages {
					if err := db.Message.Create().SetUserID(u.ID).SetChatID(c.ID).SetSender(message.SenderUSER).
						SetContent("earlier").Exec(ctx); err != nil {
						t.Fatal(err)
					}
				}
				tx, err := db.Tx(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := nameOnFirstMessage(ctx, tx, c.ID, "Revenue by region"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				if got := db.Chat.GetX(ctx, c.ID).Title; got != tc.want {
					t.Errorf("title %q, want %q", got, tc.want)
				}
			})
		}
	}
}
