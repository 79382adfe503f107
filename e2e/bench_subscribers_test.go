package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
	redisbroker "github.com/autoanalyst/autoanalyst/broker/redis"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
)

// BenchmarkSubscribers holds many WebSocket subscribers (SUBSCRIBERS, default
// 10,000, following 1,000 runs) on one API process (`serve --workers 0` on
// Redis and PostgreSQL), then publishes one event to every run per iteration,
// paced over a second, straight into Redis, and times, on the client side,
// how long each took to reach each subscriber. The clients run in the
// benchmark's process, on the same cores as the server. BENCH_SERVER_GOGC sets
// the server's GOGC, to see what garbage collection does to the tail. It reports the API process's RSS per subscriber and
// the publish-to-receive latency p50 and p99.
func BenchmarkSubscribers(b *testing.B) {
	subscribers := 10_000
	if v, err := strconv.Atoi(os.Getenv("SUBSCRIBERS")); err == nil && v > 0 {
		subscribers = v
	}
	runs := max(subscribers/10, 1)
	burst := os.Getenv("PUBLISH_BURST") == "1"
	prefix := fmt.Sprintf("aa-bench-%016x:", time.Now().UnixNano())
	redisURL := testRedisURL(b)
	env := map[string]string{
		"DATABASE_URL": postgresURLForBench(b),
		"REDIS_URL":    redisURL,
		"REDIS_PREFIX": prefix,
		"BLOB_URL":     "file://" + b.TempDir(),
		"RATE_LIMIT":   "0",
		"LOG_LEVEL":    "warn",
		"GOGC":         os.Getenv("BENCH_SERVER_GOGC"),
		"DEBUG_ADDR":   os.Getenv("BENCH_DEBUG_ADDR"),
	}
	srv := startServer(b, env, "--workers", "0")
	token := srv.session()
	up := srv.upload(token, uploadMutation, map[string]any{"f": nil}, "f", "h.csv", strings.NewReader("a,b\n1,2\n"))
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	json.Unmarshal(up.Data, &uploaded)
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(token, createChatMutation, map[string]any{"ids": []string{uploaded.UploadDataset[0].ID}}, &chat)
	// Runs that no worker will take (there is none): their logs are ours.
	runIDs := make([]string, runs)
	for i := range runIDs {
		var r struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		}
		srv.must(token, executeMutation, map[string]any{"chat": chat.CreateChat.ID, "code": "x = 1"}, &r)
		runIDs[i] = r.ExecuteCode.ID
	}
	rssBefore := procStatus(b, srv.cmd.Process.Pid, "VmRSS")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var received atomic.Int64
	var mu sync.Mutex
	var latencies []float64
	wsURL := "ws" + strings.TrimPrefix(srv.url, "http") + "/graphql"
	ready := make(chan error, subscribers)
	for i := range subscribers {
		runID := runIDs[i%runs]
		go func() {
			c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				ready <- err
				return
			}
			defer c.CloseNow()
			wsjson.Write(ctx, c, map[string]any{"type": "connection_init", "payload": authInit(token)})
			var msg struct {
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := wsjson.Read(ctx, c, &msg); err != nil || msg.Type != "connection_ack" {
				ready <- fmt.Errorf("init: %v %s", err, msg.Type)
				return
			}
			wsjson.Write(ctx, c, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
				"query": `subscription($id: ID!) { runEvents(runID: $id) { seq at } }`, "variables": map[string]any{"id": runID}}})
			ready <- nil
			// Only the event's "at" is read, without decoding the whole
			// message: the clients share the server's cores, and their cost
			// would show as the server's latency.
			atKey := []byte(`"at":"`)
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					return
				}
				i := bytes.Index(b, atKey)
				if i < 0 || !bytes.Contains(b[:min(len(b), 64)], []byte(`"next"`)) {
					continue
				}
				rest := b[i+len(atKey):]
				j := bytes.IndexByte(rest, '"')
				if j < 0 {
					continue
				}
				if at, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
					d := time.Since(at)
					mu.Lock()
					latencies = append(latencies, float64(d)/float64(time.Millisecond))
					mu.Unlock()
				}
				received.Add(1)
			}
		}()
	}
	for range subscribers {
		if err := <-ready; err != nil {
			b.Fatalf("subscriber: %v", err)
		}
	}
	time.Sleep(2 * time.Second) // let every subscription reach the broker, and the GC settle
	rssAfter := procStatus(b, srv.cmd.Process.Pid, "VmRSS")

	opts, _ := goredis.ParseURL(redisURL)
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	pub := redisbroker.New(rdb, redisbroker.WithPrefix(prefix))
	defer pub.Close()
	want := int64(0)
	for b.Loop() {
		// One event per run, paced over a second: every run emitting an
		// event a second, as live runs do (a burst of all at once is the
		// other extreme; PUBLISH_BURST=1 measures that).
		start := time.Now()
		for i, id := range runIDs {
			if !burst {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(runs))); d > 0 {
					time.Sleep(d)
				}
			}
			if _, err := pub.Append(ctx, id, broker.Event{Type: "STEP", At: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		want += int64(subscribers)
		deadline := time.Now().Add(time.Minute)
		for received.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events received", received.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(rssAfter-rssBefore)/float64(subscribers)/1024, "KB/subscriber")
	// After the publishing, with the garbage it made (the GC's headroom).
	b.ReportMetric(float64(procStatus(b, srv.cmd.Process.Pid, "VmRSS")-rssBefore)/float64(subscribers)/1024, "KB/subscriber-end")
	mu.Lock()
	b.ReportMetric(pct(latencies, 50), "p50-ms")
	b.ReportMetric(pct(latencies, 99), "p99-ms")
	mu.Unlock()
	cancel()
	keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		rdb.Del(context.Background(), keys[:n]...)
		keys = keys[n:]
	}
}

func postgresURLForBench(b *testing.B) string {
	return databasetest.PostgresURL(b)
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(max(int(math.Ceil(p/100*float64(len(s))))-1, 0), len(s)-1)]
}
