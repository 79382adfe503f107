package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const adminKey = "admin-key-for-tests-0123456789"

// TestUsageAndAdmin: a chat turn's model calls show in the user's usage, in
// the admin dashboard, in the public ticker and, live, in usageUpdates; the
// admin operations refuse a caller without the admin key.
func TestUsageAndAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY":  llmKey,
		"OPENAI_BASE_URL": llmSrv.BaseURL(),
		"DEFAULT_MODEL":   "gpt-5-mini",
		"ADMIN_API_KEY":   adminKey,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)

	// The live feed, as the admin, before the chat turn.
	var (
		mu   sync.Mutex
		feed []string
	)
	ready := make(chan error, 1)
	go func() {
		err := srv.subscribeAny(ctx, http.Header{"X-Admin-Key": {adminKey}}, nil,
			`subscription { usageUpdates { id modelName provider totalTokens cost } }`, ready, func(data json.RawMessage) {
				var p struct {
					UsageUpdates struct{ ID, ModelName, Provider string } `json:"usageUpdates"`
				}
				json.Unmarshal(data, &p)
				if p.UsageUpdates.Provider != "OPENAI" {
					t.Errorf("usageUpdates provider %q, want OPENAI", p.UsageUpdates.Provider)
				}
				mu.Lock()
				feed = append(feed, p.UsageUpdates.ModelName)
				mu.Unlock()
			})
		if err != nil && ctx.Err() == nil {
			t.Errorf("usageUpdates: %v", err)
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("usageUpdates: %v", err)
	}

	var sent struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "Clean the data and chart the price by city"}, &sent)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("chat turn: %v %+v %+v", err, gerr, evs)
	}

	var mine struct {
		Viewer struct {
			Usage struct {
				Calls, TotalTokens, Runs int
				CostUSD                  float64
				ByModel                  []struct {
					Provider, Model string
					Calls           int
				}
			}
		}
	}
	srv.must(alice, `{ viewer { usage(period: P7D) { calls totalTokens costUSD runs byModel { provider model calls } } } }`, nil, &mine)
	u := mine.Viewer.Usage
	if u.Calls < 3 || u.TotalTokens == 0 || u.Runs != 1 || len(u.ByModel) == 0 || u.ByModel[0].Model != "gpt-5-mini" || u.ByModel[0].Provider != "OPENAI" {
		t.Fatalf("viewer usage = %+v", u)
	}

	const dash = `{ adminDashboard(period: P7D) { usage { calls costUSD } users { total active }
		topUsers { user { id usage(period: P7D) { calls } } calls } byDay { day calls } projection { next30DaysUSD }
		tiers { tier calls } codeExecutions { total succeeded byAgent { agent total } }
		feedback { count distribution } } }`
	for name, key := range map[string]string{"no key": "", "a wrong key": "not-the-admin-key"} {
		if r := srv.doWith(http.Header{"X-Admin-Key": {key}}, alice, dash); r.code() != "UNAUTHENTICATED" {
			t.Fatalf("adminDashboard with %s: %+v", name, r)
		}
	}
	if r := srv.doWith(nil, alice, `subscription { usageUpdates { id } }`); len(r.Errors) == 0 {
		t.Fatalf("usageUpdates over POST without the key: %+v", r)
	}
	// Over a WebSocket, a signed-in user without the key is refused too.
	refused := make(chan error, 1)
	err = srv.subscribeAny(ctx, nil, authInit(alice), `subscription { usageUpdates { id } }`, refused, func(json.RawMessage) {
		t.Error("usageUpdates sent an event to a user without the admin key")
	})
	var wsErr *gqlError
	if !errors.As(err, &wsErr) || wsErr.Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("usageUpdates over a WebSocket without the key: %v", err)
	}
	r := srv.doWith(http.Header{"X-Admin-Key": {adminKey}}, "", dash)
	if len(r.Errors) > 0 {
		t.Fatalf("adminDashboard: %+v", r.Errors)
	}
	var d struct {
		AdminDashboard struct {
			Usage    struct{ Calls int }
			Users    struct{ Total, Active int }
			TopUsers []struct {
				User struct {
					ID    string
					Usage struct{ Calls int }
				}
				Calls int
			}
			ByDay          []struct{ Day string }
			CodeExecutions struct{ Total, Succeeded int }
		}
	}
	json.Unmarshal(r.Data, &d)
	ad := d.AdminDashboard
	if ad.Usage.Calls != u.Calls || ad.Users.Total < 1 || ad.Users.Active != 1 || len(ad.ByDay) != 8 ||
		len(ad.TopUsers) != 1 || ad.TopUsers[0].Calls != u.Calls || ad.TopUsers[0].User.ID == "" ||
		ad.TopUsers[0].User.Usage.Calls != u.Calls || ad.CodeExecutions.Total != 1 {
		t.Fatalf("adminDashboard = %+v", ad)
	}

	// The admin key grants the admin queries only: with it, another user
	// still sees and changes nothing of alice's.
	bob := srv.session()
	asAdmin := http.Header{"X-Admin-Key": {adminKey}}
	var empty struct{ CreateChat struct{ ID string } }
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{}}, &empty)
	if r := srv.doWith(asAdmin, bob, fmt.Sprintf(`{ node(id: %q) { id } }`, chatID)); len(r.Errors) == 0 && string(r.Data) != `{"node":null}` {
		t.Fatalf("bob with the admin key reads alice's chat: %s", r.Data)
	}
	if r := srv.doWith(asAdmin, bob, `{ chats { totalCount } }`); string(r.Data) != `{"chats":{"totalCount":0}}` {
		t.Fatalf("bob with the admin key lists chats: %s %+v", r.Data, r.Errors)
	}
	if r := srv.doWith(asAdmin, bob, `mutation { deleteEmptyChats }`); string(r.Data) != `{"deleteEmptyChats":0}` {
		t.Fatalf("bob with the admin key deletes empty chats: %s %+v", r.Data, r.Errors)
	}
	if r := srv.doWith(asAdmin, bob, fmt.Sprintf(`{ node(id: %q) { id } }`, empty.CreateChat.ID)); string(r.Data) != `{"node":null}` {
		t.Fatalf("alice's empty chat as bob: %s", r.Data)
	}
	var still struct{ Node *struct{ ID string } }
	srv.must(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": empty.CreateChat.ID}, &still)
	if still.Node == nil {
		t.Fatal("deleteEmptyChats with the admin key deleted alice's empty chat")
	}

	// topUsers is bounded.
	for _, n := range []int{0, 101} {
		if r := srv.doWith(http.Header{"X-Admin-Key": {adminKey}}, "", fmt.Sprintf(`{ adminDashboard(period: P7D, topUsers: %d) { usage { calls } } }`, n)); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("topUsers %d: %+v", n, r.Errors)
		}
	}

	var tick struct {
		PublicTicker struct{ Signups, TotalTokens, Requests int }
	}
	srv.must("", `{ publicTicker { signups totalTokens requests } }`, nil, &tick)
	if tick.PublicTicker.Requests != u.Calls || tick.PublicTicker.TotalTokens != u.TotalTokens {
		t.Fatalf("publicTicker = %+v, usage %+v", tick.PublicTicker, u)
	}

	// Every usage row reached the live feed, once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(feed)
		mu.Unlock()
		if n >= u.Calls || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a duplicate would show by now
	mu.Lock()
	defer mu.Unlock()
	if len(feed) != u.Calls {
		t.Fatalf("usageUpdates gave %d events (%v), want one per usage row (%d)", len(feed), feed, u.Calls)
	}
}

// TestUsersSetCommand: `autoanalyst users set` makes a user an admin on the
// PRO plan; the API then admits them to the admin queries and the premium
// templates.
func TestUsersSetCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	srv := startServer(t, map[string]string{"DATA_DIR": dir})
	var up struct{ SignUp struct{ Token string } }
	srv.must("", `mutation($in: SignUpInput!) { signUp(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": "ops@example.com", "password": "correct horse", "name": "Ops"}}, &up)
	token := up.SignUp.Token
	const dash = `{ adminDashboard(period: P7D) { users { total } } }`
	if r := srv.do(token, dash, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("adminDashboard before: %+v", r.Errors)
	}
	premium := listTemplates(t, srv, token, nil)["feature_engineering_agent"].ID
	const enable = `mutation($id: ID!) { setTemplateEnabled(templateID: $id, enabled: true) { enabled } }`
	if r := srv.do(token, enable, map[string]any{"id": premium}); r.code() != "PREMIUM_REQUIRED" {
		t.Fatalf("a premium template on FREE: %+v", r.Errors)
	}

	run := func(args ...string) (string, error) {
		cmd := exec.Command(buildBinary(t), append([]string{"users", "set"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + dir, "LOG_FORMAT=json"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, args := range [][]string{
		{"nobody@example.com", "--role", "ADMIN"},
		{"ops@example.com", "--role", "ROOT"},
		{"ops@example.com"},
	} {
		if out, err := run(args...); err == nil {
			t.Fatalf("users set %v succeeded: %s", args, out)
		}
	}
	if out, err := run("OPS@example.com", "--role", "admin", "--plan", "pro"); err != nil || !strings.Contains(out, `"role":"ADMIN"`) {
		t.Fatalf("users set: %v\n%s", err, out)
	}
	if r := srv.do(token, dash, nil); len(r.Errors) > 0 {
		t.Fatalf("adminDashboard as an admin: %+v", r.Errors)
	}
	if r := srv.do(token, enable, map[string]any{"id": premium}); len(r.Errors) > 0 {
		t.Fatalf("a premium template on PRO: %+v", r.Errors)
	}
}
