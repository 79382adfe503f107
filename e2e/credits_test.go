package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestCredits: chat turns are charged their model's tier (gpt-5-mini: 3
// credits) against a FREE allowance of 6; the third turn and a deep
// analysis (50) are refused with CREDITS_EXHAUSTED before any model call;
// the viewer reads what is used and left; an admin sees the user near the
// allowance and raises it, and the refused turn then runs. (The monthly
// renewal: TestCreditsRenewed, and package credit with an injected clock.)
func TestCredits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
		"DEFAULT_MODEL":   "gpt-5-mini",
		"ADMIN_API_KEY":   adminKey,
		"CREDITS_FREE":    "6",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)
	admin := http.Header{"X-Admin-Key": {adminKey}}

	turn := func() {
		t.Helper()
		var sent struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "Clean the data and chart the price by city"}, &sent)
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil)
		if err != nil || gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
			t.Fatalf("chat turn: %v %+v %+v", err, gerr, evs)
		}
	}
	turn()
	turn()

	type credits struct {
		Allowance, Left *int
		Used            int
		RenewsAt        time.Time
	}
	var me struct {
		Viewer struct {
			ID      string
			Credits credits
		}
	}
	srv.must(alice, `{ viewer { id credits { allowance used left renewsAt } } }`, nil, &me)
	c := me.Viewer.Credits
	if c.Allowance == nil || *c.Allowance != 6 || c.Used != 6 || c.Left == nil || *c.Left != 0 ||
		c.RenewsAt.Day() != 1 || !c.RenewsAt.After(time.Now()) {
		t.Fatalf("viewer credits = %+v", c)
	}

	// Spent: refused before any model call, naming the allowance and renewal.
	calls := llmSrv.Count()
	r := srv.do(alice, sendMutation, map[string]any{"chat": chatID, "content": "And the mean price?"})
	if r.code() != "CREDITS_EXHAUSTED" || r.Errors[0].Extensions["allowance"] != float64(6) ||
		r.Errors[0].Extensions["used"] != float64(6) || r.Errors[0].Extensions["cost"] != float64(3) ||
		r.Errors[0].Extensions["renewsAt"] != c.RenewsAt.UTC().Format(time.RFC3339) {
		t.Fatalf("sendMessage past the allowance: %+v", r)
	}
	r = srv.do(alice, `mutation($chat: ID!) { startDeepAnalysis(input: {chatID: $chat, goal: "What drives prices?"}) { id } }`,
		map[string]any{"chat": chatID})
	if r.code() != "CREDITS_EXHAUSTED" || r.Errors[0].Extensions["cost"] != float64(50) {
		t.Fatalf("startDeepAnalysis past the allowance: %+v", r)
	}
	if n := llmSrv.Count(); n != calls {
		t.Fatalf("refused runs made %d model calls", n-calls)
	}

	// Admins only: alice is at her allowance.
	const near = `{ usersNearAllowance(threshold: 0.8) { user { id } credits { allowance used left } } }`
	if r := srv.do(alice, near, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("usersNearAllowance without the key: %+v", r)
	}
	if r := srv.do(alice, `mutation($u: ID!) { setUserAllowance(userID: $u, credits: 1000) { id } }`, map[string]any{"u": me.Viewer.ID}); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("setUserAllowance without the key: %+v", r)
	}
	var listed struct {
		UsersNearAllowance []struct {
			User    struct{ ID string }
			Credits credits
		}
	}
	r = srv.doWith(admin, "", near)
	if err := json.Unmarshal(r.Data, &listed); err != nil || len(listed.UsersNearAllowance) != 1 ||
		listed.UsersNearAllowance[0].User.ID != me.Viewer.ID || listed.UsersNearAllowance[0].Credits.Used != 6 {
		t.Fatalf("usersNearAllowance = %+v %v", r, err)
	}
	if r := srv.doWith(admin, "", `mutation { setPlanAllowance(plan: FREE, credits: -2) { plan } }`); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("setPlanAllowance -2: %+v", r)
	}
	r = srv.doWith(admin, "", `mutation { setPlanAllowance(plan: PRO, credits: -1) { plan credits isDefault } }`)
	if len(r.Errors) > 0 {
		t.Fatalf("setPlanAllowance: %+v", r.Errors)
	}

	// Raised to 9: the refused turn now runs.
	r = srv.doWith(admin, "", `mutation { setUserAllowance(userID: "`+me.Viewer.ID+`", credits: 9) { id credits { allowance left } } }`)
	if len(r.Errors) > 0 {
		t.Fatalf("setUserAllowance: %+v", r.Errors)
	}
	turn()
	srv.must(alice, `{ viewer { id credits { allowance used left renewsAt } } }`, nil, &me)
	if c := me.Viewer.Credits; *c.Allowance != 9 || c.Used != 9 || *c.Left != 0 {
		t.Fatalf("credits after the raise = %+v", c)
	}
}
