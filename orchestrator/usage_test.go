package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/ent"
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
		s.usage.wait("run_gone")
		rows, err := db.ModelUsage.Query().Where(modelusage.UserID(u.ID)).All(system(ctx))
		if err != nil || len(rows) != 1 || rows[0].ChatID != nil || rows[0].TotalTokens != 12 {
			t.Fatalf("postgres=%v: rows %+v, %v", pg, rows, err)
		}
	}
}

// TestUsageWrittenInTheBackground: a run's next step does not wait for the
// usage row of its last LLM call, and wait (before the run's end) returns
// once the row is stored.
func TestUsageWrittenInTheBackground(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	const slow = 300 * time.Millisecond
	db.ModelUsage.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			time.Sleep(slow) // a database that takes its time
			return next.Mutate(ctx, m)
		})
	})
	s, err := New(Config{DB: db, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		runID      string
		background bool
	}{
		{"a run's call", "run_slow", true},
		{"a call outside a run", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			meta := withUsageMeta(ctx, usageMeta{userID: u.ID, runID: tc.runID, step: tc.name})
			start := time.Now()
			s.recordUsage(meta, llm.Usage{Provider: "openai", Model: "gpt-5-mini", InputTokens: 1, OutputTokens: 1}, nil)
			if took := time.Since(start); (took < slow) != tc.background {
				t.Fatalf("recordUsage took %v (background: %v)", took, tc.background)
			}
			s.usage.wait(tc.runID)
			n, err := db.ModelUsage.Query().Where(modelusage.Step(tc.name)).Count(system(ctx))
			if err != nil || n != 1 {
				t.Fatalf("after wait: %d rows, %v", n, err)
			}
		})
	}
	s.usage.waitAll()
}
