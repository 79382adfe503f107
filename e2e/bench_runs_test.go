package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
)

// BenchmarkRunsEndToEnd measures trivial runs per second through the whole
// system, side by side: a client sends executeCode("x = 1") over GraphQL, a
// worker claims the run, the chat's sandboxed kernel runs it, the result is
// stored, and the client sees RUN_SUCCEEDED over a WebSocket. Sixteen runs
// are in flight at once, over four chats (four kernels per worker process).
// Deployments, each on PostgreSQL:
//   - memory: one `serve` process, the in-memory broker, WORKERS=4;
//   - redis/workers=1 and 2: an API node (`serve --workers 0`) and one or
//     two `autoanalyst worker` processes with WORKERS=4 each, on Redis.
//
// It reports runs/s. The clients, the server processes, Redis, PostgreSQL
// and Python all share the machine's cores.
func BenchmarkRunsEndToEnd(b *testing.B) {
	pg := databasetest.PostgresURL(b)
	for _, tc := range []struct {
		name    string
		redis   bool
		workers int // worker processes (0: in the API process)
	}{
		{"memory", false, 0},
		{"redis/workers=1", true, 1},
		{"redis/workers=2", true, 2},
	} {
		b.Run(tc.name, func(b *testing.B) {
			env := map[string]string{
				"DATABASE_URL": pg,
				"BLOB_URL":     "file://" + b.TempDir(),
				"RATE_LIMIT":   "0",
				"LOG_LEVEL":    "warn",
				"WORKERS":      "4",
				"MAX_KERNELS":  "8",
			}
			var api *server
			if tc.redis {
				env["REDIS_URL"] = testRedisURL(b)
				env["REDIS_PREFIX"] = fmt.Sprintf("aa-bench-%016x:", rand.Uint64())
				api = startServer(b, env, "--workers", "0")
				wenv := maps.Clone(env)
				wenv["LOG_LEVEL"] = "info" // startWorker waits for "worker ready"
				for range tc.workers {
					startWorker(b, wenv)
				}
			} else {
				api = startServer(b, env)
			}
			// The runs of one user, over four chats of that user.
			token, first := chatWithData(b, api)
			chats := []string{first}
			for range 3 {
				chats = append(chats, newChat(b, api, token))
			}
			// Warm every kernel up first.
			var warm sync.WaitGroup
			for _, chat := range chats {
				warm.Add(1)
				go func() { defer warm.Done(); runToEnd(b, api, token, chat) }()
			}
			warm.Wait()

			const inFlight = 16
			sem := make(chan struct{}, inFlight)
			var wg sync.WaitGroup
			var n atomic.Int64
			start := time.Now()
			i := 0
			for b.Loop() {
				sem <- struct{}{}
				wg.Add(1)
				chat := chats[i%len(chats)]
				i++
				go func() {
					defer func() { <-sem; wg.Done() }()
					runToEnd(b, api, token, chat)
					n.Add(1)
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "runs/s")
		})
	}
}

// newChat creates a chat of token's user on the dataset of its first chat.
func newChat(b *testing.B, s *server, token string) string {
	b.Helper()
	var ds struct {
		Datasets struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	s.must(token, `{ datasets(first: 1) { edges { node { id } } } }`, nil, &ds)
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	var ids []string
	for _, e := range ds.Datasets.Edges {
		ids = append(ids, e.Node.ID)
	}
	s.must(token, createChatMutation, map[string]any{"ids": ids}, &chat)
	return chat.CreateChat.ID
}

// runToEnd executes a trivial line and follows the run until it ends.
func runToEnd(b *testing.B, s *server, token, chat string) {
	runID := execute(b, s, token, chat, "x = 1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs, gerr, err := s.subscribe(ctx, "graphql-transport-ws", authInit(token), runID, 0, nil)
	if err != nil || gerr != nil {
		b.Errorf("run %s: %v %+v", runID, err, gerr)
		return
	}
	if len(evs) == 0 || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		b.Errorf("run %s ended with %+v", runID, evs)
	}
}
