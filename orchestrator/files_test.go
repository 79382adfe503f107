package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/ent/message"
)

// TestAttachFiles: an answer gets the files its run stored and no answer
// holds yet; the statement is skipped only for a first attempt that stored
// none (no earlier attempt can have left any).
func TestAttachFiles(t *testing.T) {
	db := openTestDB(t, false)
	ctx := system(context.Background())
	u, err := db.User.Create().Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.Chat.Create().SetUserID(u.ID).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		attempt     int
		started     bool // an earlier attempt started the run
		storedFiles bool // this attempt stored files
		want        bool // the orphan file is attached
	}{
		{"first attempt, no files", 1, false, false, false},
		{"first attempt, files", 1, false, true, true},
		{"a redelivery", 2, false, false, true},
		{"started before (a process restarted)", 1, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := db.Run.Create().SetUserID(u.ID).SetChatID(c.ID).SetKind("CHAT").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A file of the run that no answer holds, as a crashed attempt
			// (or this one) leaves it.
			f, err := db.OutputFile.Create().SetUserID(u.ID).SetRunID(r.ID).SetName("out.csv").SetSize(1).
				SetMediaType("text/csv").SetBlobKey("k/" + r.ID).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.started {
				r.StartedAt = new(time.Time)
			}
			rc := &runContext{run: r, attempt: tc.attempt}
			rc.storedFiles.Store(tc.storedFiles)
			tx, err := db.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m, err := tx.Message.Create().SetUserID(u.ID).SetChatID(c.ID).SetSender(message.SenderAI).
				SetContent("answer").SetRunID(r.ID).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := attachFiles(ctx, tx, rc, m.ID); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			f, err = db.OutputFile.Get(ctx, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.MessageID != nil; got != tc.want {
				t.Errorf("attached %v, want %v", got, tc.want)
			}
		})
	}
}
