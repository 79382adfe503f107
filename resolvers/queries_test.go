package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/analytics"
	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// countingAPI serves the API on a migrated SQLite database whose every SQL
// statement is counted.
type countingAPI struct {
	db         *ent.Client
	statements atomic.Int64
	handler    http.Handler
	auth       *auth.Service
}

func newCountingAPI(t *testing.T) *countingAPI {
	t.Helper()
	ctx := context.Background()
	base, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	if _, err := base.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	api := &countingAPI{}
	drv := dialect.DebugWithContext(entsql.OpenDB(dialect.SQLite, base.SQL), func(context.Context, ...any) {
		api.statements.Add(1)
	})
	api.db = ent.NewClient(ent.Driver(drv))
	api.auth = auth.New(api.db, time.Hour, "")
	stats, err := analytics.New(api.db, dialect.SQLite, nil)
	if err != nil {
		t.Fatal(err)
	}
	api.handler, err = resolvers.NewHandler(&resolvers.Resolver{DB: api.db, Auth: api.auth, Analytics: stats, Logger: zerolog.Nop()}, resolvers.HandlerConfig{MaxUploadBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// query runs a GraphQL query and returns how many SQL statements it took.
func (a *countingAPI) query(t *testing.T, token, q string) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q})
	req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	before := a.statements.Load()
	a.handler.ServeHTTP(rec, req)
	n := a.statements.Load() - before
	if rec.Code != 200 || strings.Contains(rec.Body.String(), `"errors"`) {
		t.Fatalf("query: %d %s", rec.Code, rec.Body)
	}
	return n
}

// seed gives the user chats, each with messages and a dataset.
func (a *countingAPI) seed(t *testing.T, userID string, chats, messages int) {
	t.Helper()
	ctx := privacy.DecisionContext(context.Background(), privacy.Allow)
	for i := range chats {
		d := a.db.Dataset.Create().SetUserID(userID).SetName(fmt.Sprintf("d%d_%d", chats, i)).
			SetFileName("d.csv").SetSizeBytes(1).SetSha256("x").SetStorageKey(fmt.Sprintf("k%d_%d", chats, i)).SetColumns(nil).SaveX(ctx)
		c := a.db.Chat.Create().SetUserID(userID).AddDatasets(d).SaveX(ctx)
		for range messages {
			a.db.Message.Create().SetUserID(userID).SetChatID(c.ID).SetSender("USER").SetContent("hi").SaveX(ctx)
		}
	}
}

// TestNestedQueriesAreNotNPlusOne: the statements a nested query takes do
// not grow with the rows it returns.
func TestNestedQueriesAreNotNPlusOne(t *testing.T) {
	const nested = `{ chats(first: 50) { totalCount edges { node { id title
		datasets(first: 10) { totalCount edges { node { id name } } }
		messages(first: 20) { totalCount edges { node { id content sender } } } } } } }`
	cases := []struct{ chats, messages int }{{1, 1}, {3, 4}, {12, 9}}
	var counts []int64
	for _, tc := range cases {
		api := newCountingAPI(t)
		guest, err := api.auth.CreateGuest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		api.seed(t, guest.User.ID, tc.chats, tc.messages)
		api.query(t, guest.Token, nested) // warm: session lookups are the same every time
		counts = append(counts, api.query(t, guest.Token, nested))
	}
	for i, n := range counts {
		if n != counts[0] {
			t.Fatalf("statements per query %v for %v chats×messages: it grows with the rows (case %d)", counts, cases, i)
		}
	}
	t.Logf("statements per nested query: %d", counts[0])
}
