package e2e

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
)

// TestCreditsRenewed: a user who spent the month's allowance is refused,
// and once the month turns (the user's usage row moved to last month in the
// server's PostgreSQL, as the calendar would leave it) the same turn runs
// and the viewer reads the new month's usage, renewing on the first of the
// month after.
func TestCreditsRenewed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	pg := databasetest.PostgresURL(t)
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{
		"DATABASE_URL":    pg,
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
		"DEFAULT_MODEL":   "gpt-5-mini",
		"CREDITS_FREE":    "3",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)
	var sent struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "Clean the data and chart the price by city"}, &sent)
	if evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil); err != nil ||
		gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("first turn: %v %+v %+v", err, gerr, evs)
	}
	const again = "And the mean price?"
	if r := srv.do(alice, sendMutation, map[string]any{"chat": chatID, "content": again}); r.code() != "CREDITS_EXHAUSTED" {
		t.Fatalf("a turn past the allowance: %+v", r)
	}

	// The month turns: what alice used is last month's.
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	res, err := db.ExecContext(ctx, `UPDATE credit_usages SET period = $1 WHERE period = $2`, lastMonth, now.Format("2006-01"))
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("move the usage to %s: %v (%d rows)", lastMonth, err, n)
	}

	var me struct {
		Viewer struct {
			Credits struct {
				Allowance, Left *int
				Used            int
				RenewsAt        time.Time
			}
		}
	}
	srv.must(alice, `{ viewer { credits { allowance used left renewsAt } } }`, nil, &me)
	if c := me.Viewer.Credits; c.Used != 0 || c.Left == nil || *c.Left != 3 {
		t.Fatalf("credits in the new month = %+v", c)
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": again}, &sent)
	if evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil); err != nil ||
		gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("the turn after the renewal: %v %+v %+v", err, gerr, evs)
	}
	srv.must(alice, `{ viewer { credits { allowance used left renewsAt } } }`, nil, &me)
	next := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	if c := me.Viewer.Credits; c.Used != 3 || *c.Left != 0 || !c.RenewsAt.Equal(next) {
		t.Fatalf("credits after the renewed turn = %+v, want 3 used, renewing at %s", c, next)
	}
}
