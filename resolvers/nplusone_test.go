package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/httpapi"
	"github.com/autoanalyst/autoanalyst/orchestrator"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// TestNestedQueriesDoNotGrow counts the SQL statements of nested queries
// (chats -> messages -> feedback, and -> code execution with its stored
// result; templates with the viewer's enabled; runs with their reports) and
// fails when they grow with the number of rows.
func TestNestedQueriesDoNotGrow(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var statements atomic.Int64
	client := ent.NewClient(ent.Driver(dialect.DebugWithContext(entsql.OpenDB(dialect.SQLite, db.SQL),
		func(context.Context, ...any) { statements.Add(1) })))
	tpl := catalog.New(client)
	cfg, _ := catalog.DefaultTemplateConfig()
	if _, err := tpl.Sync(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a := auth.New(client, time.Hour, "")
	a.OnUserCreated(tpl.EnableDefaults)
	guest, err := a.CreateGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpapi.NewHandler(&resolvers.Resolver{DB: client, Auth: a, TemplateService: tpl, Logger: zerolog.Nop()}, httpapi.Config{MaxUploadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	sys := auth.SystemContext(ctx)
	uid := guest.User.ID
	result := orchestrator.EncodeResult(&orchestrator.Result{OK: true, Stdout: "5\n",
		Figures: []json.RawMessage{json.RawMessage(`{"data":[{"type":"bar","y":[1,2]}],"layout":{}}`)},
		Tables:  []orchestrator.Table{{Columns: []string{"a"}, Rows: [][]any{{1.0}, {nil}}}}}, 0)
	// answer adds an answer with its feedback and its code's stored result.
	answer := func(chatID string) {
		m := client.Message.Create().SetUserID(uid).SetChatID(chatID).SetSender(message.SenderAI).SetContent("a").SaveX(sys)
		client.MessageFeedback.Create().SetUserID(uid).SetMessageID(m.ID).SetRating(3).ExecX(sys)
		client.CodeExecution.Create().SetUserID(uid).SetChatID(chatID).SetMessageID(m.ID).
			SetInitialCode("fig.show()").SetLatestCode("fig.show()").SetResult(result).ExecX(sys)
	}
	var first string // the first chat, reopened through node(id:)
	addRows := func(chats, msgs int) {
		if first != "" {
			for range msgs {
				answer(first)
			}
		}
		for range chats {
			c := client.Chat.Create().SetUserID(uid).SaveX(sys)
			if first == "" {
				first = c.ID
			}
			for range msgs {
				answer(c.ID)
			}
			r := client.Run.Create().SetUserID(uid).SetChatID(c.ID).SetKind(run.KindDEEP_ANALYSIS).SaveX(sys)
			client.DeepAnalysisReport.Create().SetUserID(uid).SetUUID(r.ID).SetGoal("g").SetRunID(r.ID).ExecX(sys)
		}
		for range chats {
			client.AgentTemplate.Create().SetUserID(uid).SetName(fmt.Sprintf("c_%d", statements.Load())).
				SetPrompt("p").SetCategory(catalog.CategoryModelling).ExecX(sys)
		}
	}
	count := func(query string) int64 {
		body, _ := json.Marshal(map[string]any{"query": query})
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+guest.Token)
		rec := httptest.NewRecorder()
		before := statements.Load()
		h.ServeHTTP(rec, req)
		n := statements.Load() - before
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
		}
		return n
	}
	addRows(1, 1)
	queries := []string{
		`{ chats { edges { node { title messages { edges { node { content feedback { rating } } } } } } } }`,
		// A reopened chat: each answer with what its code produced.
		`{ chats(first: 10) { edges { node { messages(first: 10) { edges { node { content codeExecution { latestCode
			result { ok stdout figures images tables { columns rows } error traceback durationMs } } } } } } } } }`,
		`{ node(id: "` + first + `") { ... on Chat { messages(first: 50) { edges { node { content
			codeExecution { result { ok stdout figures tables { columns rows } error } } } } } } } }`,
		`{ templates { edges { node { name enabled usageCount } } } }`,
		`{ runs { edges { node { kind report { status progressPercentage } } } } }`,
	}
	var small []int64
	for _, q := range queries {
		small = append(small, count(q))
	}
	addRows(4, 5)
	for i, q := range queries {
		big := count(q)
		t.Logf("%d statements, then %d: %s", small[i], big, q)
		if big != small[i] {
			t.Errorf("%s: %d statements with 1 row each, %d with more", q, small[i], big)
		}
	}
}
