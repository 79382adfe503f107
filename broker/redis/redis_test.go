package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/brokertest"
	"github.com/autoanalyst/autoanalyst/broker/redis"
)

// testClient connects to the test Redis (TEST_REDIS_URL, default
// redis://127.0.0.1:6379/0). When it is unreachable the test is skipped, or
// fails under CI=true.
func testClient(t testing.TB) *goredis.Client {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis unreachable at %s: %v", url, err)
		}
		t.Skipf("Redis unreachable at %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newBroker returns a broker on a key prefix of its own, whose keys are
// deleted when the test ends.
func newBroker(t testing.TB, opts ...redis.Option) (*redis.Broker, *goredis.Client, string) {
	t.Helper()
	c := testClient(t)
	prefix := fmt.Sprintf("aa-test-%016x:", rand.Uint64())
	b := redis.New(c, append([]redis.Option{redis.WithPrefix(prefix)}, opts...)...)
	t.Cleanup(func() {
		b.Close()
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return b, c, prefix
}

func TestConformance(t *testing.T) {
	brokertest.RunConformance(t, func(t *testing.T) broker.Broker {
		b, _, _ := newBroker(t,
			redis.WithBackoff(redis.ExponentialBackoff(5*time.Millisecond, 50*time.Millisecond)),
			redis.WithLogRetention(time.Minute),
		)
		return b
	})
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDeadWorkerTakenOver: a worker that claims a job and disappears loses it
// to another process's Claim once the lease expires; the job is dead-lettered
// when its attempts are used up that way.
func TestDeadWorkerTakenOver(t *testing.T) {
	ctx := ctxFor(t)
	a, c, prefix := newBroker(t)
	b := redis.New(c, redis.WithPrefix(prefix)) // another process
	defer b.Close()
	tc := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	if err := a.Enqueue(ctx, broker.Job{ID: "j1", Kind: "k", Payload: json.RawMessage(`{"x":1}`), MaxAttempts: 2, TraceContext: tc}); err != nil {
		t.Fatal(err)
	}
	l1, err := a.Claim(ctx, 100*time.Millisecond)
	if err != nil || l1.Attempt != 1 {
		t.Fatalf("claim: %+v %v", l1, err)
	}
	a.Close() // the first worker dies without a word
	l2, err := b.Claim(ctx, 100*time.Millisecond)
	if err != nil || l2.Job.ID != "j1" || l2.Attempt != 2 || string(l2.Job.Payload) != `{"x":1}` {
		t.Fatalf("takeover: %+v %v", l2, err)
	}
	if err := b.Ack(ctx, l1); err != broker.ErrLeaseLost {
		t.Fatalf("ack of the dead worker's lease: %v", err)
	}
	// The second delivery expires too: no attempts left.
	time.Sleep(150 * time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if l, err := b.Claim(cctx, time.Second); err == nil {
		t.Fatalf("claimed %+v after the last attempt", l)
	}
	dead, err := b.Dead(ctx)
	if err != nil || len(dead) != 1 || dead[0].Job.ID != "j1" || dead[0].Attempts != 2 || !strings.Contains(dead[0].Reason, "lease expired") {
		t.Fatalf("dead: %+v %v", dead, err)
	}
	// The dead-lettered job keeps its trace context.
	if got := dead[0].Job.TraceContext["traceparent"]; got != tc["traceparent"] {
		t.Errorf("dead job's traceparent %q, want %q", got, tc["traceparent"])
	}
}

// TestOneReaderConnection: many followers of many runs wait on one blocking
// connection, not one each.
func TestOneReaderConnection(t *testing.T) {
	ctx := ctxFor(t)
	b, c, prefix := newBroker(t)
	const runs, perRun = 50, 4
	var subs []*broker.Subscription
	for i := range runs {
		for range perRun {
			s, err := b.Follow(ctx, fmt.Sprintf("run-%d", i), 0)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
	}
	// Every follower is waiting: count the blocked XREADs on our streams.
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, err := c.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, "name="+prefix+"reader ") && strings.Contains(line, "cmd=xread") {
				n++
			}
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d blocked XREAD connections for %d followers", n, runs*perRun)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range runs {
		run := fmt.Sprintf("run-%d", i)
		b.Append(ctx, run, broker.Event{Type: "A"})
		b.Append(ctx, run, broker.Event{Type: "END", Final: true})
	}
	for i, s := range subs {
		var got []int64
		for ev := range s.C {
			got = append(got, ev.Seq)
		}
		if len(got) != 2 || got[0] != 1 || got[1] != 2 || s.Err() != nil {
			t.Fatalf("follower %d got %v (err %v)", i, got, s.Err())
		}
	}
}

// TestLogExpires: a finished log is removed after the retention.
func TestLogExpires(t *testing.T) {
	ctx := ctxFor(t)
	b, _, _ := newBroker(t, redis.WithLogRetention(200*time.Millisecond))
	b.Append(ctx, "r", broker.Event{Type: "A"})
	b.Append(ctx, "r", broker.Event{Type: "END", Final: true})
	if evs, _ := b.Read(ctx, "r", 0, 0); len(evs) != 2 {
		t.Fatalf("read %d events", len(evs))
	}
	time.Sleep(400 * time.Millisecond)
	if evs, err := b.Read(ctx, "r", 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("after the retention: %d events, %v", len(evs), err)
	}
	if seq, err := b.Append(ctx, "r", broker.Event{Type: "A"}); err != nil || seq != 1 {
		t.Fatalf("a new log starts at 1: %d %v", seq, err)
	}
}

// BenchmarkRuns measures trivial runs per second through Redis with one and
// two worker "processes" (brokers with clients of their own), four workers
// each; compare with broker/memory's BenchmarkRuns.
func BenchmarkRuns(b *testing.B) {
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("processes=%d", procs), func(b *testing.B) {
			prefix := fmt.Sprintf("aa-bench-%016x:", rand.Uint64())
			brokertest.BenchmarkRuns(b, procs, 4, func(b *testing.B) broker.Broker {
				c := testClient(b)
				br := redis.New(c, redis.WithPrefix(prefix), redis.WithLogRetention(time.Minute))
				b.Cleanup(func() {
					br.Close()
					ctx := context.Background()
					keys, _ := c.Keys(ctx, prefix+"*").Result()
					for len(keys) > 0 {
						n := min(len(keys), 1000)
						c.Del(ctx, keys[:n]...)
						keys = keys[n:]
					}
				})
				return br
			})
		})
	}
}
