package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/brokertest"
	"github.com/autoanalyst/autoanalyst/broker/memory"
)

func TestConformance(t *testing.T) {
	brokertest.RunConformance(t, func(t *testing.T) broker.Broker {
		b := memory.New(
			memory.WithBackoff(memory.ExponentialBackoff(5*time.Millisecond, 50*time.Millisecond)),
			memory.WithLogRetention(time.Minute),
		)
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSlowFollowerReceivesEverything(t *testing.T) {
	t.Parallel()
	b := memory.New()
	defer b.Close()
	const n = 10000
	sub, err := b.Follow(ctx(t), "run", 0)
	must(t, err)
	start := time.Now()
	for i := 1; i <= n; i++ {
		if _, err := b.Append(ctx(t), "run", broker.Event{Type: "e", Final: i == n}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("%d appends with an idle follower took %v", n, d)
	}
	want := int64(1)
	for ev := range sub.C {
		if ev.Seq != want {
			t.Fatalf("got seq %d, want %d", ev.Seq, want)
		}
		want++
	}
	if want != n+1 || sub.Err() != nil {
		t.Fatalf("follower stopped after %d (Err %v), want all %d events", want-1, sub.Err(), n)
	}
}

func TestDead(t *testing.T) {
	t.Parallel()
	b := memory.New(memory.WithBackoff(nil), memory.WithDeadLimit(3))
	defer b.Close()

	// Fail without retry.
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "a", Kind: "k"}))
	l, err := b.Claim(ctx(t), time.Minute)
	must(t, err)
	_, err = b.Fail(ctx(t), l, errors.New("bad input"), false)
	must(t, err)

	// Retries used up.
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "b", MaxAttempts: 2}))
	for range 2 {
		l, err := b.Claim(ctx(t), time.Minute)
		must(t, err)
		_, err = b.Fail(ctx(t), l, errors.New("boom"), true)
		must(t, err)
	}

	// Lease expired on the last attempt.
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "c", MaxAttempts: 1}))
	_, err = b.Claim(ctx(t), 10*time.Millisecond)
	must(t, err)
	time.Sleep(20 * time.Millisecond)

	dead := b.Dead()
	if len(dead) != 3 {
		t.Fatalf("Dead() = %+v, want 3 jobs", dead)
	}
	for i, want := range []struct {
		id, reason string
		attempts   int
	}{
		{"a", "bad input", 1},
		{"b", "boom (attempt 2 of 2)", 2},
		{"c", "lease expired (attempt 1 of 1)", 1},
	} {
		d := dead[i]
		if d.Job.ID != want.id || d.Reason != want.reason || d.Attempts != want.attempts || d.At.IsZero() {
			t.Errorf("Dead()[%d] = %+v, want %s %q after %d attempts", i, d, want.id, want.reason, want.attempts)
		}
	}

	// The limit drops the oldest.
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "d"}))
	l, err = b.Claim(ctx(t), time.Minute)
	must(t, err)
	_, err = b.Fail(ctx(t), l, nil, false)
	must(t, err)
	dead = b.Dead()
	if len(dead) != 3 || dead[0].Job.ID != "b" || dead[2].Job.ID != "d" || dead[2].Reason != "failed" {
		t.Fatalf("Dead() after the limit = %+v, want b, c, d", dead)
	}
	// A finished ID may be enqueued again.
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "a"}))
}

func TestBackoffDelaysRetry(t *testing.T) {
	t.Parallel()
	const delay = 200 * time.Millisecond
	var attempts []int
	b := memory.New(memory.WithBackoff(func(attempt int) time.Duration {
		attempts = append(attempts, attempt) // called under the broker's lock
		return delay
	}))
	defer b.Close()
	must(t, b.Enqueue(ctx(t), broker.Job{ID: "a"}))
	l, err := b.Claim(ctx(t), time.Minute)
	must(t, err)
	failed := time.Now()
	retry, err := b.Fail(ctx(t), l, errors.New("boom"), true)
	must(t, err)
	if !retry {
		t.Fatal("willRetry = false")
	}
	short, cancel := context.WithTimeout(ctx(t), delay/2)
	defer cancel()
	if l, err := b.Claim(short, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim during the backoff = %+v, %v", l, err)
	}
	l, err = b.Claim(ctx(t), time.Minute)
	must(t, err)
	if d := time.Since(failed); d < delay || l.Attempt != 2 {
		t.Fatalf("redelivered after %v with attempt %d, want >= %v and 2", d, l.Attempt, delay)
	}
	if fmt.Sprint(attempts) != "[1]" {
		t.Fatalf("backoff called with %v, want [1]", attempts)
	}
}

func TestExponentialBackoff(t *testing.T) {
	f := memory.ExponentialBackoff(100*time.Millisecond, time.Second)
	var got []string
	for a := 1; a <= 6; a++ {
		got = append(got, f(a).String())
	}
	if s := strings.Join(got, " "); s != "100ms 200ms 400ms 800ms 1s 1s" {
		t.Fatalf("backoff = %s", s)
	}
}

func TestLogRetention(t *testing.T) {
	t.Parallel()
	const retention = 50 * time.Millisecond
	b := memory.New(memory.WithLogRetention(retention))
	defer b.Close()
	for _, run := range []string{"done", "open"} {
		_, err := b.Append(ctx(t), run, broker.Event{Type: "a"})
		must(t, err)
	}
	_, err := b.Append(ctx(t), "done", broker.Event{Type: "end", Final: true})
	must(t, err)
	if evs, _ := b.Read(ctx(t), "done", 0, 0); len(evs) != 2 {
		t.Fatalf("finished log read before its retention: %d events", len(evs))
	}
	time.Sleep(2 * retention)
	evs, err := b.Read(ctx(t), "done", 0, 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("finished log after its retention = %v, %v; want empty", evs, err)
	}
	if evs, _ := b.Read(ctx(t), "open", 0, 0); len(evs) != 1 {
		t.Fatalf("unfinished log lost: %d events", len(evs))
	}
	// A removed run is unknown: a new log starts from 1.
	if seq, err := b.Append(ctx(t), "done", broker.Event{Type: "a"}); err != nil || seq != 1 {
		t.Fatalf("Append to a removed run = %d, %v", seq, err)
	}
}

func TestFollowersLeakNoGoroutines(t *testing.T) {
	b := memory.New()
	base := runtime.NumGoroutine()
	c, cancel := context.WithCancel(context.Background())
	var subs []*broker.Subscription
	for i := range 100 {
		sub, err := b.Follow(c, fmt.Sprintf("run-%d", i%10), 0)
		must(t, err)
		subs = append(subs, sub)
	}
	if _, err := b.Append(ctx(t), "run-1", broker.Event{Type: "x", Data: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, s := range subs {
		for range s.C {
		}
	}
	waitGoroutines(t, base)

	// Close ends the followers it finds.
	for range 10 {
		_, err := b.Follow(ctx(t), "run-x", 0)
		must(t, err)
	}
	must(t, b.Close())
	waitGoroutines(t, base)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d", runtime.NumGoroutine(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	b := memory.New()
	defer b.Close()
	if err := b.Enqueue(ctx(t), broker.Job{}); err == nil {
		t.Error("Enqueue of a job without ID succeeded")
	}
	if _, err := b.Claim(ctx(t), 0); err == nil {
		t.Error("Claim with ttl 0 succeeded")
	}
	if err := b.Ack(ctx(t), nil); err == nil {
		t.Error("Ack(nil) succeeded")
	}
}

// BenchmarkRuns is the memory side of the comparison with the Redis broker
// (broker/redis BenchmarkRuns): one process, since the memory broker serves
// one process only.
func BenchmarkRuns(b *testing.B) {
	br := memory.New()
	b.Cleanup(func() { br.Close() })
	brokertest.BenchmarkRuns(b, 1, 4, func(*testing.B) broker.Broker { return nopClose{br} })
}

// nopClose shares one memory broker between the benchmark's "processes".
type nopClose struct{ broker.Broker }

func (nopClose) Close() error { return nil }
