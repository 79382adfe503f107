package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// testHandler is the API on a fresh SQLite database, without services
// beyond authentication.
func testHandler(tb testing.TB, cfg Config) http.Handler {
	tb.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	h, err := NewHandler(&resolvers.Resolver{DB: db.Client, Auth: auth.New(db.Client, time.Hour, ""), Logger: zerolog.Nop()}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// BenchmarkGuards serves the worst request of each class the guards refuse,
// in process, next to { viewer { id } }: the handler's own CPU, without
// the network's (BenchmarkAbuse measures the whole server).
func BenchmarkGuards(b *testing.B) {
	h := testHandler(b, Config{MaxUploadBytes: 1 << 20})
	body := func(query string, vars map[string]any) []byte {
		out, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		return out
	}
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("cht_%026d", i)
	}
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"viewer", body(`{ viewer { id } }`, nil)},
		{"typename10k", body("{"+strings.Repeat(" __typename", 10_000)+" }", nil)},
		{"models10k", body("{"+strings.Repeat(" models { name }", 10_000)+" }", nil)},
		{"directives10k", body("{ __typename"+strings.Repeat(" @skip(if: false)", 10_000)+" }", nil)},
		{"nodes10k", body(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})},
		{"cleanCode1000", body(aliases(`cleanCode(code: "import os\nimport sys\nx = 1\n")`, 1000), nil)},
		{"fragments24", body(fragmentBomb(24), nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
