// Package brokertest is the conformance suite for broker.Broker: every
// implementation (memory, redis) runs RunConformance from its own tests and
// must pass it unchanged.
//
// The suite uses only the broker interface. Its timings tolerate a broker over
// a network (Redis) with latencies of tens of milliseconds:
//
//   - Something that must happen is waited for up to Patience (10s); a
//     conforming implementation normally takes milliseconds, so the suite runs
//     fast when things work and fails slowly only when they do not.
//   - Something that must not happen (a delivery) is watched for Quiet (300ms).
//   - Short leases last ShortTTL (200ms) and are expected to be taken over by
//     another Claim within Patience after they expire.
//   - A lease kept alive by Extend every 100ms with a ttl of 500ms must not be
//     taken over during 1.5s: each Extend round trip must take well under
//     400ms.
//   - A lease of 1s must still be held when Cancel is called right after
//     Claim (CancelSurvivesRedelivery).
//   - The retry backoff of the broker returned by newBroker must let a failed
//     job be redelivered within Patience for each of DefaultMaxAttempts
//     attempts (a few seconds at most in total; tests should configure
//     milliseconds).
//   - Lease.ExpiresAt and the At the broker gives events may differ from the
//     test's clock by up to 2s (a broker may use its server's clock).
//
// Beyond the timings, the suite pins down a few points the interface
// documentation leaves to it: Ack, Extend, Fail and Release of a lease that was
// acked, failed, released or has expired return ErrLeaseLost; a cancellation
// request survives redelivery (the next holder's Extend returns ErrCanceled);
// a job waiting for a retry is canceled as JobQueued; Job.Affinity is
// delivered as enqueued, and a queued job with a key is counted by Stats,
// found by Lookup and removed by Cancel like any other; Read accepts a negative
// after (as 0); Follow with a ctx that is already done either fails with the
// ctx's error or returns a follower that closes at once; payloads and event
// Data are compared as JSON values, not bytes.
//
// Slow followers: Follow must never block Append, whatever a follower does.
// The suite accepts both designs the broker documentation allows: a follower
// that stops reading for a while either receives every event in order
// afterwards (memory: followers read the log from their own position and never
// overflow), or is closed before the Final event with a non-nil Err (a
// buffering implementation dropping a follower that fell too far behind).
// Either way, what the follower received is in order, without gaps or
// duplicates.
package brokertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// Timings the suite relies on; see the package comment.
const (
	// Patience bounds every wait for something that must happen.
	Patience = 10 * time.Second
	// Quiet is how long the suite watches for something that must not happen.
	Quiet = 300 * time.Millisecond
	// ShortTTL is the ttl of leases the suite lets expire.
	ShortTTL = 200 * time.Millisecond
	// LongTTL is the ttl of leases that must not expire during a test.
	LongTTL = 30 * time.Second
)

// RunConformance runs the conformance suite. newBroker must return a new,
// empty broker that shares no jobs or logs with any other broker it returned
// (for Redis: a fresh key prefix or database); the subtests run in parallel,
// each with its own broker. The suite closes every broker it gets when the
// subtest ends, possibly after closing it itself, so Close must tolerate a
// second call.
func RunConformance(t *testing.T, newBroker func(t *testing.T) broker.Broker) {
	t.Helper()
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Queue", queueCases},
		{"EventLog", eventCases},
		{"AppendBatch", batchCases},
		{"Close", closeCases},
		{"Reconcile", reconcileCases},
		{"Affinity", affinityCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					b := newBroker(t)
					t.Cleanup(func() { _ = b.Close() })
					tc.run(t, b)
				})
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, b broker.Broker)
}

// ---- helpers ----

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func bg(t *testing.T) context.Context { return ctxFor(t, Patience) }

func testJob(id string) broker.Job {
	return broker.Job{ID: id, Kind: "test", Payload: json.RawMessage(`{"id":"` + id + `"}`)}
}

func enqueue(t *testing.T, b broker.Broker, jobs ...broker.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := b.Enqueue(bg(t), j); err != nil {
			t.Fatalf("Enqueue(%s): %v", j.ID, err)
		}
	}
}

// claim waits up to Patience for a job and checks that it is wantID.
func claim(t *testing.T, b broker.Broker, ttl time.Duration, wantID string) *broker.Lease {
	t.Helper()
	l, err := b.Claim(bg(t), ttl)
	if err != nil {
		t.Fatalf("Claim: %v (want job %s)", err, wantID)
	}
	if l == nil {
		t.Fatalf("Claim returned a nil lease and no error")
	}
	if l.Job.ID != wantID {
		t.Fatalf("Claim got job %q, want %q", l.Job.ID, wantID)
	}
	return l
}

// noClaim checks that no job is delivered within Quiet.
func noClaim(t *testing.T, b broker.Broker) {
	t.Helper()
	l, err := b.Claim(ctxFor(t, Quiet), LongTTL)
	if err == nil {
		t.Fatalf("Claim delivered job %q (attempt %d), want no delivery", l.Job.ID, l.Attempt)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim on an empty queue: %v, want context.DeadlineExceeded", err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// jsonEqual compares JSON documents by value; empty and null are equal.
func jsonEqual(a, b []byte) bool {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if len(a) == 0 {
		a = []byte("null")
	}
	if len(b) == 0 {
		b = []byte("null")
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func appendEv(t *testing.T, b broker.Broker, run string, ev broker.Event) int64 {
	t.Helper()
	seq, err := b.Append(bg(t), run, ev)
	if err != nil {
		t.Fatalf("Append(%s, %s): %v", run, ev.Type, err)
	}
	return seq
}

// appendN appends n events of type typ numbered in Data and checks that they
// get the sequence numbers first, first+1, ...
func appendN(t *testing.T, b broker.Broker, run string, first int64, n int) {
	t.Helper()
	for i := range n {
		want := first + int64(i)
		ev := broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"run":%q,"n":%d}`, run, want))}
		if got := appendEv(t, b, run, ev); got != want {
			t.Fatalf("Append #%d to %s got seq %d, want %d", i+1, run, got, want)
		}
	}
}

func finish(t *testing.T, b broker.Broker, run string, want int64) {
	t.Helper()
	if got := appendEv(t, b, run, broker.Event{Type: "done", Final: true}); got != want {
		t.Fatalf("Append(Final) to %s got seq %d, want %d", run, got, want)
	}
}

func follow(t *testing.T, b broker.Broker, ctx context.Context, run string, after int64) *broker.Subscription {
	t.Helper()
	sub, err := b.Follow(ctx, run, after)
	if err != nil {
		t.Fatalf("Follow(%s, %d): %v", run, after, err)
	}
	return sub
}

// next receives one event within Patience and checks its Seq.
func next(t *testing.T, sub *broker.Subscription, wantSeq int64) broker.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if !ok {
			t.Fatalf("follower closed (Err: %v), want event %d", sub.Err(), wantSeq)
		}
		if ev.Seq != wantSeq {
			t.Fatalf("follower got seq %d, want %d", ev.Seq, wantSeq)
		}
		return ev
	case <-time.After(Patience):
		t.Fatalf("follower: no event within %v, want event %d", Patience, wantSeq)
	}
	panic("unreachable")
}

// nextN receives the events from..to.
func nextN(t *testing.T, sub *broker.Subscription, from, to int64) {
	t.Helper()
	for s := from; s <= to; s++ {
		next(t, sub, s)
	}
}

// closed waits up to Patience for the channel to be closed with no further
// event, and returns Err.
func closed(t *testing.T, sub *broker.Subscription) error {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		if ok {
			t.Fatalf("follower got event %d (%s), want the channel closed", ev.Seq, ev.Type)
		}
		return sub.Err()
	case <-time.After(Patience):
		t.Fatalf("follower not closed within %v", Patience)
	}
	panic("unreachable")
}

// drainClosed reads until the channel is closed (within Patience), checking
// that what it reads continues the sequence after last; it returns the last
// Seq read.
func drainClosed(t *testing.T, sub *broker.Subscription, last int64) int64 {
	t.Helper()
	deadline := time.After(Patience)
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return last
			}
			if ev.Seq != last+1 {
				t.Fatalf("follower got seq %d after %d", ev.Seq, last)
			}
			last = ev.Seq
		case <-deadline:
			t.Fatalf("follower not closed within %v", Patience)
		}
	}
}

func seqs(evs []broker.Event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}
