package orchestrator

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/llm"
)

// TestUsageOfADeletedChat: a call that ends after its chat was deleted still
// leaves its usage row, without the chat.
func TestUsageOfADeletedChat(t *testing.T) {
	for _, pg := range []bool{false, true} {
		db := openTestDB(t, pg)
		ctx := context.Background()
		s, err := New(Config{DB: db, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		u, err := db.User.Create().Save(system(ctx))
		if err != nil {
			t.Fatal(err)
		}
		meta := withUsageMeta(ctx, usageMeta{userID: u.ID, chatID: "cht_gone", runID: "run_gone", step: "rater"})
		s.recordUsage(meta, llm.Usage{Provider: "openai", Model: "gpt-5-mini", InputTokens: 10, OutputTokens: 2}, nil)
		rows, err := db.ModelUsage.Query().Where(modelusage.UserID(u.ID)).All(system(ctx))
		if err != nil || len(rows) != 1 || rows[0].ChatID != nil || rows[0].TotalTokens != 12 {
			t.Fatalf("postgres=%v: rows %+v, %v", pg, rows, err)
		}
	}
}
