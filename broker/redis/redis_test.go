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

// twoProcesses returns brokers A and B on one key prefix, each with a client
// of its own (two worker processes), liveness 300ms and the given steal
// bound, and the client of the test.
func twoProcesses(t *testing.T, stealAfter time.Duration) (a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
	t.Helper()
	opts := []redis.Option{redis.WithLiveness(300 * time.Millisecond), redis.WithStealAfter(stealAfter)}
	b, c, prefix = newBroker(t, opts...)
	ca = goredis.NewClient(c.Options())
	t.Cleanup(func() { ca.Close() })
	a = redis.New(ca, append([]redis.Option{redis.WithPrefix(prefix)}, opts...)...)
	t.Cleanup(func() { a.Close() })
	return a, b, ca, c, prefix
}

// own makes a the owner of key: it claims and acks a job with that key, and
// the test waits for a's heartbeat.
func own(t *testing.T, ctx context.Context, a *redis.Broker, c *goredis.Client, prefix, key string) {
	t.Helper()
	id := "own-" + key
	if err := a.Enqueue(ctx, broker.Job{ID: id, Kind: "k", Affinity: key}); err != nil {
		t.Fatal(err)
	}
	l, err := a.Claim(ctx, time.Minute)
	if err != nil || l.Job.ID != id {
		t.Fatalf("claim %s: %+v %v", id, l, err)
	}
	if err := a.Ack(ctx, l); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the owner's heartbeat", func() bool {
		return c.Exists(ctx, prefix+"q:owner:"+a.Owner()+":alive").Val() == 1
	})
	if got := c.Get(ctx, prefix+"q:aff:"+key).Val(); got != a.Owner() {
		t.Fatalf("owner of %s = %q, want %q", key, got, a.Owner())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// claimWithin claims on br within d and checks the job's ID; it returns the
// lease and how long the claim took.
func claimWithin(t *testing.T, ctx context.Context, br *redis.Broker, d time.Duration, want string) (*broker.Lease, time.Duration) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	l, err := br.Claim(cctx, time.Minute)
	if err != nil || l.Job.ID != want {
		t.Fatalf("claim within %s: %+v %v, want %s", d, l, err, want)
	}
	return l, time.Since(start)
}

// noClaimWithin checks that br claims nothing within d.
func noClaimWithin(t *testing.T, ctx context.Context, br *redis.Broker, d time.Duration) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if l, err := br.Claim(cctx, time.Minute); err == nil {
		t.Fatalf("claimed %s, want nothing", l.Job.ID)
	}
}

// TestAffinity: with two worker processes on one prefix, the jobs of a key
// go to the process that claimed the key last while it lives, and nothing
// is stranded when it closes, crashes or is busy.
func TestAffinity(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stealAfter time.Duration
		run        func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string)
	}{
		{"BackToItsOwner", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			b.Enqueue(ctx, broker.Job{ID: "plain", Kind: "k"})
			b.Enqueue(ctx, broker.Job{ID: "other", Kind: "k", Affinity: "chat-2"})
			if st, err := b.Stats(ctx); err != nil || st.Ready != 3 {
				t.Fatalf("stats %+v %v, want 3 ready", st, err)
			}
			// B gets the shared jobs, never j2; B becomes chat-2's owner.
			for _, id := range []string{"plain", "other"} {
				l, _ := claimWithin(t, ctx, b, 2*time.Second, id)
				b.Ack(ctx, l)
			}
			noClaimWithin(t, ctx, b, 300*time.Millisecond)
			l, _ := claimWithin(t, ctx, a, 2*time.Second, "j2")
			if l.Job.Affinity != "chat-1" {
				t.Fatalf("affinity %q", l.Job.Affinity)
			}
			if got := c.Get(ctx, prefix+"q:aff:chat-2").Val(); got != b.Owner() {
				t.Fatalf("owner of chat-2 = %q, want B %q", got, b.Owner())
			}
		}},
		{"WakesItsOwner", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// A Claim blocked on an empty queue wakes for a job sent to it.
			own(t, ctx, a, c, prefix, "chat-1")
			type res struct {
				l   *broker.Lease
				err error
			}
			got := make(chan res, 1)
			go func() {
				l, err := a.Claim(ctx, time.Minute)
				got <- res{l, err}
			}()
			time.Sleep(300 * time.Millisecond)
			start := time.Now()
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			r := <-got
			if r.err != nil || r.l.Job.ID != "j2" {
				t.Fatalf("claim: %+v %v", r.l, r.err)
			}
			if d := time.Since(start); d > 150*time.Millisecond {
				t.Errorf("the owner's Claim took %s to wake", d)
			}
		}},
		{"OwnerClosed", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// A job waiting for A goes back to the shared list when A
			// closes; the key's next job goes there too.
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			if n := c.LLen(ctx, prefix+"q:owner:"+a.Owner()+":ready").Val(); n != 1 {
				t.Fatalf("A's list holds %d jobs, want 1", n)
			}
			a.Close()
			if n := c.Exists(ctx, prefix+"q:owner:"+a.Owner()+":alive").Val(); n != 0 {
				t.Fatal("A still alive after Close")
			}
			l, d := claimWithin(t, ctx, b, 2*time.Second, "j2")
			if d > 200*time.Millisecond {
				t.Errorf("B took %s to claim the job of a closed owner", d)
			}
			b.Ack(ctx, l)
			b.Enqueue(ctx, broker.Job{ID: "j3", Kind: "k", Affinity: "chat-1"})
			claimWithin(t, ctx, b, 200*time.Millisecond, "j3")
		}},
		{"OwnerCrashed", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// A's connection goes (a crash): its heartbeat stops, its
			// liveness expires, and B takes the job waiting for A.
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			if n := c.LLen(ctx, prefix+"q:owner:"+a.Owner()+":ready").Val(); n != 1 {
				t.Fatalf("A's list holds %d jobs, want 1", n)
			}
			if info, err := b.Lookup(ctx, "j2"); err != nil || info.State != broker.JobQueued {
				t.Fatalf("lookup %+v %v", info, err)
			}
			ca.Close()
			l, d := claimWithin(t, ctx, b, 3*time.Second, "j2")
			if d < 100*time.Millisecond {
				t.Errorf("B claimed the job after %s, before A's liveness could expire", d)
			}
			if l.Attempt != 1 {
				t.Errorf("attempt %d, want 1", l.Attempt)
			}
			if got := c.Get(ctx, prefix+"q:aff:chat-1").Val(); got != b.Owner() {
				t.Fatalf("owner of chat-1 = %q, want B %q", got, b.Owner())
			}
			if c.SIsMember(ctx, prefix+"q:owners", a.Owner()).Val() {
				t.Error("the crashed owner is still in the owners' set")
			}
		}},
		{"DeadOwnersList", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// Jobs in the list of an owner whose liveness expired go back
			// to the head of the shared list, in order, ahead of later ones.
			c.SAdd(ctx, prefix+"q:owners", "ghost")
			c.Set(ctx, prefix+"q:aff:chat-1", "ghost", time.Minute)
			c.Set(ctx, prefix+"q:owner:ghost:alive", "1", 200*time.Millisecond)
			for _, id := range []string{"g1", "g2"} {
				b.Enqueue(ctx, broker.Job{ID: id, Kind: "k", Affinity: "chat-1"})
			}
			if n := c.LLen(ctx, prefix+"q:owner:ghost:ready").Val(); n != 2 {
				t.Fatalf("the ghost's list holds %d jobs, want 2", n)
			}
			if st, err := b.Stats(ctx); err != nil || st.Ready != 2 {
				t.Fatalf("stats %+v %v, want 2 ready", st, err)
			}
			time.Sleep(250 * time.Millisecond)
			b.Enqueue(ctx, broker.Job{ID: "later", Kind: "k"})
			for _, id := range []string{"g1", "g2", "later"} {
				l, _ := claimWithin(t, ctx, b, 2*time.Second, id)
				b.Ack(ctx, l)
			}
		}},
		{"BusyOwnerStolenFrom", 300 * time.Millisecond, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// A holds a job and does not claim; the key's next job waits
			// the steal bound at the head of A's list, then idle B takes
			// it and becomes the key's owner.
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "busy", Kind: "k", Affinity: "chat-1"})
			claimWithin(t, ctx, a, 2*time.Second, "busy")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			l, d := claimWithin(t, ctx, b, 3*time.Second, "j2")
			if d < 200*time.Millisecond {
				t.Errorf("B stole the job after %s, before the bound", d)
			}
			if got := c.Get(ctx, prefix+"q:aff:chat-1").Val(); got != b.Owner() || l.Job.Affinity != "chat-1" {
				t.Fatalf("owner of chat-1 = %q, want B %q", got, b.Owner())
			}
		}},
		{"InOrderWithShared", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// The owner takes its own jobs and the shared ones in the order
			// they were enqueued: neither list starves the other.
			own(t, ctx, a, c, prefix, "chat-1")
			for _, j := range []broker.Job{{ID: "p1"}, {ID: "j2", Affinity: "chat-1"}, {ID: "p2"}, {ID: "j3", Affinity: "chat-1"}} {
				j.Kind = "k"
				b.Enqueue(ctx, j)
				time.Sleep(2 * time.Millisecond) // distinct enqueue times
			}
			if n := c.LLen(ctx, prefix+"q:owner:"+a.Owner()+":ready").Val(); n != 2 {
				t.Fatalf("A's list holds %d jobs, want 2", n)
			}
			for _, id := range []string{"p1", "j2", "p2", "j3"} {
				l, _ := claimWithin(t, ctx, a, 2*time.Second, id)
				a.Ack(ctx, l)
			}
		}},
		{"CancelInOwnersList", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			if st, err := b.Cancel(ctx, "j2"); err != nil || st != broker.JobQueued {
				t.Fatalf("cancel: %s %v", st, err)
			}
			if n := c.LLen(ctx, prefix+"q:owner:"+a.Owner()+":ready").Val(); n != 0 {
				t.Fatalf("A's list holds %d jobs after Cancel", n)
			}
			if st, err := b.Stats(ctx); err != nil || st.Ready != 0 {
				t.Fatalf("stats %+v %v", st, err)
			}
			noClaimWithin(t, ctx, a, 300*time.Millisecond)
		}},
		{"ExpiredLeaseShared", time.Minute, func(t *testing.T, ctx context.Context, a, b *redis.Broker, ca, c *goredis.Client, prefix string) {
			// A job whose owner's lease expired is delivered again through
			// the shared list, to whoever claims.
			own(t, ctx, a, c, prefix, "chat-1")
			b.Enqueue(ctx, broker.Job{ID: "j2", Kind: "k", Affinity: "chat-1"})
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			l, err := a.Claim(cctx, 100*time.Millisecond)
			cancel()
			if err != nil || l.Job.ID != "j2" {
				t.Fatalf("claim: %+v %v", l, err)
			}
			l2, _ := claimWithin(t, ctx, b, 2*time.Second, "j2")
			if l2.Attempt != 2 {
				t.Fatalf("attempt %d, want 2", l2.Attempt)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			a, b, ca, c, prefix := twoProcesses(t, tc.stealAfter)
			tc.run(t, ctx, a, b, ca, c, prefix)
		})
	}
}
