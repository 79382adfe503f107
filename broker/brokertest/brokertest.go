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
// a job waiting for a retry is canceled as JobQueued; Read accepts a negative
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
	"maps"
	"reflect"
	"sort"
	"sync"
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
		{"Close", closeCases},
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

// ---- queue ----

var queueCases = []testCase{
	{"Stats", func(t *testing.T, b broker.Broker) {
		stats := func(want broker.QueueStats) {
			t.Helper()
			got, err := b.Stats(bg(t))
			noErr(t, "Stats", err)
			if got != want {
				t.Fatalf("Stats = %+v, want %+v", got, want)
			}
		}
		stats(broker.QueueStats{})
		enqueue(t, b, testJob("s-1"), testJob("s-2"), testJob("s-3"))
		stats(broker.QueueStats{Ready: 3})
		l1 := claim(t, b, LongTTL, "s-1")
		stats(broker.QueueStats{Ready: 2, Leased: 1})
		retry, err := b.Fail(bg(t), l1, errors.New("boom"), true)
		noErr(t, "Fail(retry)", err)
		if !retry {
			t.Fatal("Fail with attempts left did not retry")
		}
		l2 := claim(t, b, LongTTL, "s-2")
		_, err = b.Fail(bg(t), l2, errors.New("bad input"), false)
		noErr(t, "Fail(no retry)", err)
		// s-1 waits for its backoff unless it is already due again.
		got, err := b.Stats(bg(t))
		noErr(t, "Stats", err)
		if got.Leased != 0 || got.Dead != 1 || got.Ready+got.Retrying != 2 {
			t.Fatalf("Stats after a retry and a dead letter = %+v, want 0 leased, 1 dead, 2 ready or retrying", got)
		}
	}},
	{"EnqueueClaimAck", func(t *testing.T, b broker.Broker) {
		j := testJob("job-1")
		enqueue(t, b, j)
		before := time.Now()
		l := claim(t, b, LongTTL, j.ID)
		if l.Job.Kind != j.Kind || !jsonEqual(l.Job.Payload, j.Payload) {
			t.Errorf("lease job = %+v, want %+v", l.Job, j)
		}
		if l.Attempt != 1 {
			t.Errorf("Attempt = %d, want 1", l.Attempt)
		}
		if l.Token == "" {
			t.Errorf("Token is empty")
		}
		if lo, hi := before.Add(LongTTL-2*time.Second), time.Now().Add(LongTTL+2*time.Second); l.ExpiresAt.Before(lo) || l.ExpiresAt.After(hi) {
			t.Errorf("ExpiresAt = %v, want about now+%v", l.ExpiresAt, LongTTL)
		}
		noErr(t, "Ack", b.Ack(bg(t), l))
		noClaim(t, b)
		wantErr(t, "second Ack", b.Ack(bg(t), l), broker.ErrLeaseLost)
		wantErr(t, "Extend after Ack", b.Extend(bg(t), l, LongTTL), broker.ErrLeaseLost)
	}},
	{"TraceContext", func(t *testing.T, b broker.Broker) {
		// A job's trace context is delivered as enqueued, on every delivery;
		// a job without one has none.
		tc := map[string]string{
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"tracestate":  "vendor=value",
		}
		j := testJob("traced")
		j.TraceContext = maps.Clone(tc)
		enqueue(t, b, j)
		l := claim(t, b, LongTTL, "traced")
		if !maps.Equal(l.Job.TraceContext, tc) {
			t.Errorf("TraceContext = %v, want %v", l.Job.TraceContext, tc)
		}
		noErr(t, "Release", b.Release(bg(t), l))
		l = claim(t, b, LongTTL, "traced")
		if !maps.Equal(l.Job.TraceContext, tc) {
			t.Errorf("TraceContext after Release = %v, want %v", l.Job.TraceContext, tc)
		}
		noErr(t, "Ack", b.Ack(bg(t), l))
		enqueue(t, b, testJob("plain"))
		p := claim(t, b, LongTTL, "plain")
		if len(p.Job.TraceContext) != 0 {
			t.Errorf("TraceContext of a job without one = %v, want none", p.Job.TraceContext)
		}
		noErr(t, "Ack", b.Ack(bg(t), p))
	}},
	{"FIFO", func(t *testing.T, b broker.Broker) {
		const n = 10
		for i := range n {
			enqueue(t, b, testJob(fmt.Sprintf("job-%02d", i)))
		}
		for i := range n {
			l := claim(t, b, LongTTL, fmt.Sprintf("job-%02d", i))
			noErr(t, "Ack", b.Ack(bg(t), l))
		}
		noClaim(t, b)
	}},
	{"ConcurrentClaimsDeliverOnce", func(t *testing.T, b broker.Broker) {
		const n, workers = 40, 8
		for i := range n {
			enqueue(t, b, testJob(fmt.Sprintf("job-%02d", i)))
		}
		var (
			mu   sync.Mutex
			got  = map[string]int{}
			wg   sync.WaitGroup
			errs = make(chan error, workers)
			ctx  = bg(t)
		)
		for range workers {
			wg.Go(func() {
				for {
					short, cancel := context.WithTimeout(ctx, 3*Quiet)
					l, err := b.Claim(short, LongTTL)
					cancel()
					if errors.Is(err, context.DeadlineExceeded) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					got[l.Job.ID]++
					mu.Unlock()
					if err := b.Ack(ctx, l); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d distinct jobs delivered, want %d", len(got), n)
		}
		for id, c := range got {
			if c != 1 {
				t.Errorf("job %s delivered %d times", id, c)
			}
		}
	}},
	{"DuplicateID", func(t *testing.T, b broker.Broker) {
		j := testJob("job-1")
		enqueue(t, b, j)
		wantErr(t, "Enqueue of a queued ID", b.Enqueue(bg(t), j), broker.ErrDuplicateJob)
		l := claim(t, b, LongTTL, j.ID)
		wantErr(t, "Enqueue of a running ID", b.Enqueue(bg(t), j), broker.ErrDuplicateJob)
		noClaim(t, b)
		noErr(t, "Ack", b.Ack(bg(t), l))
	}},
	{"ClaimWaitsForEnqueue", func(t *testing.T, b broker.Broker) {
		type result struct {
			l   *broker.Lease
			err error
		}
		res := make(chan result, 1)
		ctx := bg(t)
		go func() {
			l, err := b.Claim(ctx, LongTTL)
			res <- result{l, err}
		}()
		select {
		case r := <-res:
			t.Fatalf("Claim on an empty queue returned %+v", r)
		case <-time.After(Quiet):
		}
		enqueue(t, b, testJob("job-1"))
		select {
		case r := <-res:
			noErr(t, "Claim", r.err)
			if r.l.Job.ID != "job-1" {
				t.Fatalf("Claim got %q, want job-1", r.l.Job.ID)
			}
			noErr(t, "Ack", b.Ack(bg(t), r.l))
		case <-time.After(Patience):
			t.Fatalf("Claim did not wake within %v of Enqueue", Patience)
		}
	}},
	{"ClaimHonoursContext", func(t *testing.T, b broker.Broker) {
		// Deadline.
		start := time.Now()
		_, err := b.Claim(ctxFor(t, 100*time.Millisecond), LongTTL)
		wantErr(t, "Claim with a deadline", err, context.DeadlineExceeded)
		if d := time.Since(start); d > Patience {
			t.Errorf("Claim returned %v after its deadline", d)
		}
		// Cancellation from another goroutine.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := b.Claim(ctx, LongTTL)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			wantErr(t, "Claim after cancel", err, context.Canceled)
		case <-time.After(Patience):
			t.Fatalf("Claim did not return within %v of cancel", Patience)
		}
		// The job enqueued now is not lost to the canceled Claims.
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, LongTTL, "job-1")
		noErr(t, "Ack", b.Ack(bg(t), l))
	}},
	{"LeaseExpiryRedelivers", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"))
		l1 := claim(t, b, ShortTTL, "job-1")
		l2 := claim(t, b, LongTTL, "job-1") // waits for l1 to expire
		if l2.Attempt != 2 {
			t.Errorf("Attempt after expiry = %d, want 2", l2.Attempt)
		}
		if l2.Token == l1.Token {
			t.Errorf("new lease has the expired lease's token %q", l1.Token)
		}
		wantErr(t, "Extend of expired lease", b.Extend(bg(t), l1, LongTTL), broker.ErrLeaseLost)
		wantErr(t, "Ack of expired lease", b.Ack(bg(t), l1), broker.ErrLeaseLost)
		_, err := b.Fail(bg(t), l1, errors.New("late"), true)
		wantErr(t, "Fail of expired lease", err, broker.ErrLeaseLost)
		wantErr(t, "Release of expired lease", b.Release(bg(t), l1), broker.ErrLeaseLost)
		// The new holder is unaffected.
		noErr(t, "Extend of new lease", b.Extend(bg(t), l2, LongTTL))
		noErr(t, "Ack of new lease", b.Ack(bg(t), l2))
		noClaim(t, b)
	}},
	{"LeaseExpiryOnLastAttemptDeadLetters", func(t *testing.T, b broker.Broker) {
		j := testJob("job-1")
		j.MaxAttempts = 1
		enqueue(t, b, j)
		l := claim(t, b, ShortTTL, j.ID)
		time.Sleep(ShortTTL)
		noClaim(t, b)
		wantErr(t, "Ack of expired lease", b.Ack(bg(t), l), broker.ErrLeaseLost)
	}},
	{"ExtendKeepsLease", func(t *testing.T, b broker.Broker) {
		const ttl, every, hold = 500 * time.Millisecond, 100 * time.Millisecond, 1500 * time.Millisecond
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, ttl, "job-1")
		other := make(chan *broker.Lease, 1)
		holdCtx := ctxFor(t, hold)
		go func() {
			l, _ := b.Claim(holdCtx, LongTTL)
			other <- l
		}()
		for end := time.Now().Add(hold); time.Now().Before(end); {
			time.Sleep(every)
			prev := l.ExpiresAt
			noErr(t, "Extend", b.Extend(bg(t), l, ttl))
			if !l.ExpiresAt.After(prev) {
				t.Fatalf("Extend did not move ExpiresAt forward: %v -> %v", prev, l.ExpiresAt)
			}
		}
		if l2 := <-other; l2 != nil {
			t.Fatalf("job delivered again (attempt %d) while its lease was extended", l2.Attempt)
		}
		noErr(t, "Ack", b.Ack(bg(t), l))
	}},
	{"FailRetryIsBounded", func(t *testing.T, b broker.Broker) {
		for _, maxAttempts := range []int{0, 2} {
			want := maxAttempts
			if want == 0 {
				want = broker.DefaultMaxAttempts
			}
			j := testJob(fmt.Sprintf("job-max-%d", maxAttempts))
			j.MaxAttempts = maxAttempts
			enqueue(t, b, j)
			var last *broker.Lease
			for attempt := 1; attempt <= want; attempt++ {
				l := claim(t, b, LongTTL, j.ID)
				if l.Attempt != attempt {
					t.Fatalf("MaxAttempts %d: delivery %d has Attempt %d", maxAttempts, attempt, l.Attempt)
				}
				retry, err := b.Fail(bg(t), l, errors.New("boom"), true)
				noErr(t, "Fail", err)
				if retry != (attempt < want) {
					t.Fatalf("MaxAttempts %d: Fail of attempt %d reported willRetry=%v", maxAttempts, attempt, retry)
				}
				last = l
			}
			noClaim(t, b)
			wantErr(t, "Ack after the last Fail", b.Ack(bg(t), last), broker.ErrLeaseLost)
			_, err := b.Cancel(bg(t), j.ID)
			wantErr(t, "Cancel of a dead-lettered job", err, broker.ErrJobNotFound)
		}
	}},
	{"FailWithoutRetry", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, LongTTL, "job-1")
		retry, err := b.Fail(bg(t), l, errors.New("bad input"), false)
		noErr(t, "Fail", err)
		if retry {
			t.Fatalf("Fail(retry=false) reported willRetry=true")
		}
		noClaim(t, b)
		_, err = b.Fail(bg(t), l, errors.New("again"), false)
		wantErr(t, "second Fail", err, broker.ErrLeaseLost)
	}},
	{"ReleaseDoesNotCountAnAttempt", func(t *testing.T, b broker.Broker) {
		j := testJob("job-1")
		j.MaxAttempts = 1
		enqueue(t, b, j)
		l1 := claim(t, b, LongTTL, j.ID)
		noErr(t, "Release", b.Release(bg(t), l1))
		l2 := claim(t, b, LongTTL, j.ID)
		if l2.Attempt != 1 {
			t.Errorf("Attempt after Release = %d, want 1", l2.Attempt)
		}
		wantErr(t, "Ack of released lease", b.Ack(bg(t), l1), broker.ErrLeaseLost)
		wantErr(t, "second Release", b.Release(bg(t), l1), broker.ErrLeaseLost)
		noErr(t, "Ack", b.Ack(bg(t), l2))
		noClaim(t, b)
	}},
	{"CancelQueued", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"), testJob("job-2"))
		st, err := b.Cancel(bg(t), "job-1")
		noErr(t, "Cancel", err)
		if st != broker.JobQueued {
			t.Fatalf("Cancel of a queued job = %q, want %q", st, broker.JobQueued)
		}
		_, err = b.Cancel(bg(t), "job-1")
		wantErr(t, "second Cancel", err, broker.ErrJobNotFound)
		l := claim(t, b, LongTTL, "job-2") // job-1 is never delivered
		noErr(t, "Ack", b.Ack(bg(t), l))
		noClaim(t, b)
	}},
	{"CancelWaitingForRetry", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, LongTTL, "job-1")
		retry, err := b.Fail(bg(t), l, errors.New("boom"), true)
		noErr(t, "Fail", err)
		if !retry {
			t.Fatalf("Fail of attempt 1 reported willRetry=false")
		}
		st, err := b.Cancel(bg(t), "job-1")
		noErr(t, "Cancel", err)
		if st != broker.JobQueued {
			t.Fatalf("Cancel of a job waiting for a retry = %q, want %q", st, broker.JobQueued)
		}
		noClaim(t, b)
	}},
	{"CancelRunning", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, LongTTL, "job-1")
		for range 2 {
			st, err := b.Cancel(bg(t), "job-1")
			noErr(t, "Cancel", err)
			if st != broker.JobRunning {
				t.Fatalf("Cancel of a running job = %q, want %q", st, broker.JobRunning)
			}
			wantErr(t, "Extend after Cancel", b.Extend(bg(t), l, LongTTL), broker.ErrCanceled)
		}
		noErr(t, "Ack", b.Ack(bg(t), l))
		_, err := b.Cancel(bg(t), "job-1")
		wantErr(t, "Cancel after Ack", err, broker.ErrJobNotFound)
		noClaim(t, b)
	}},
	{"CancelSurvivesRedelivery", func(t *testing.T, b broker.Broker) {
		enqueue(t, b, testJob("job-1"))
		l1 := claim(t, b, time.Second, "job-1") // long enough to Cancel before it expires
		st, err := b.Cancel(bg(t), "job-1")
		noErr(t, "Cancel", err)
		if st != broker.JobRunning {
			t.Fatalf("Cancel of a running job = %q, want %q", st, broker.JobRunning)
		}
		// The holder dies; the next holder is told to stop too.
		l2 := claim(t, b, LongTTL, "job-1")
		if l2.Token == l1.Token {
			t.Fatalf("redelivery reused the token")
		}
		wantErr(t, "Extend of the redelivered job", b.Extend(bg(t), l2, LongTTL), broker.ErrCanceled)
		noErr(t, "Ack", b.Ack(bg(t), l2))
		noClaim(t, b)
	}},
	{"CancelUnknown", func(t *testing.T, b broker.Broker) {
		_, err := b.Cancel(bg(t), "no-such-job")
		wantErr(t, "Cancel", err, broker.ErrJobNotFound)
	}},
}

// ---- event log ----

var eventCases = []testCase{
	{"AppendNumbersFromOne", func(t *testing.T, b broker.Broker) {
		at := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
		in := []broker.Event{
			{Type: "started", Seq: 42}, // Seq is assigned, not taken
			{Type: "text", Data: json.RawMessage(`{"text":"hello","n":[1,2]}`)},
			{Type: "timed", At: at},
			{Type: "done", Data: json.RawMessage(`"ok"`), Final: true},
		}
		before := time.Now()
		for i, ev := range in {
			if got := appendEv(t, b, "run-1", ev); got != int64(i+1) {
				t.Fatalf("Append #%d = %d, want %d", i+1, got, i+1)
			}
		}
		after := time.Now()
		out, err := b.Read(bg(t), "run-1", 0, 0)
		noErr(t, "Read", err)
		if !reflect.DeepEqual(seqs(out), seqRange(1, 4)) {
			t.Fatalf("Read seqs = %v, want 1..4", seqs(out))
		}
		for i, ev := range out {
			w := in[i]
			if ev.Type != w.Type || ev.Final != w.Final || !jsonEqual(ev.Data, w.Data) {
				t.Errorf("event %d = %+v, want %+v", i+1, ev, w)
			}
			switch {
			case !w.At.IsZero():
				if !ev.At.Equal(w.At) {
					t.Errorf("event %d At = %v, want %v (given)", i+1, ev.At, w.At)
				}
			case ev.At.Before(before.Add(-2*time.Second)) || ev.At.After(after.Add(2*time.Second)):
				t.Errorf("event %d At = %v, want about now (%v)", i+1, ev.At, before)
			}
		}
	}},
	{"ConcurrentAppendsHaveNoGaps", func(t *testing.T, b broker.Broker) {
		const writers, each = 8, 25
		got := make([][]int64, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		ctx := bg(t)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					ev := broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))}
					seq, err := b.Append(ctx, "run-1", ev)
					if err != nil {
						errs <- err
						return
					}
					got[w] = append(got[w], seq)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var all []int64
		for w, s := range got {
			if !sort.SliceIsSorted(s, func(i, j int) bool { return s[i] < s[j] }) {
				t.Errorf("writer %d got decreasing seqs %v", w, s)
			}
			all = append(all, s...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		if !reflect.DeepEqual(all, seqRange(1, writers*each)) {
			t.Fatalf("Append returned seqs %v, want 1..%d once each", all, writers*each)
		}
		out, err := b.Read(bg(t), "run-1", 0, 0)
		noErr(t, "Read", err)
		if !reflect.DeepEqual(seqs(out), seqRange(1, writers*each)) {
			t.Fatalf("Read seqs = %v, want 1..%d", seqs(out), writers*each)
		}
		// The log holds each writer's events at the seqs Append returned.
		for _, ev := range out {
			var d struct{ W, I int }
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
			}
			if got[d.W][d.I] != ev.Seq {
				t.Fatalf("event %d holds writer %d's event %d, which Append numbered %d", ev.Seq, d.W, d.I, got[d.W][d.I])
			}
		}
	}},
	{"AppendAfterFinalFails", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 1)
		finish(t, b, "run-1", 2)
		_, err := b.Append(bg(t), "run-1", broker.Event{Type: "late"})
		wantErr(t, "Append after Final", err, broker.ErrLogFinished)
		_, err = b.Append(bg(t), "run-1", broker.Event{Type: "late", Final: true})
		wantErr(t, "second Final", err, broker.ErrLogFinished)
		out, err := b.Read(bg(t), "run-1", 0, 0)
		noErr(t, "Read", err)
		if !reflect.DeepEqual(seqs(out), seqRange(1, 2)) {
			t.Fatalf("Read seqs = %v, want [1 2]", seqs(out))
		}
	}},
	{"ReadAfterAndLimit", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 10)
		for _, tc := range []struct {
			after int64
			limit int
			want  []int64
		}{
			{0, 0, seqRange(1, 10)},
			{0, -1, seqRange(1, 10)},
			{-5, 0, seqRange(1, 10)},
			{0, 3, seqRange(1, 3)},
			{3, 4, seqRange(4, 7)},
			{8, 0, seqRange(9, 10)},
			{8, 5, seqRange(9, 10)},
			{9, 1, seqRange(10, 10)},
			{10, 0, nil},
			{10, 5, nil},
			{99, 0, nil},
		} {
			out, err := b.Read(bg(t), "run-1", tc.after, tc.limit)
			noErr(t, "Read", err)
			if len(out) != len(tc.want) || (len(out) > 0 && !reflect.DeepEqual(seqs(out), tc.want)) {
				t.Errorf("Read(after=%d, limit=%d) seqs = %v, want %v", tc.after, tc.limit, seqs(out), tc.want)
			}
			for _, ev := range out {
				var d struct{ N int64 }
				if err := json.Unmarshal(ev.Data, &d); err != nil || d.N != ev.Seq {
					t.Errorf("event %d has data %s", ev.Seq, ev.Data)
				}
			}
		}
		out, err := b.Read(bg(t), "no-such-run", 0, 0)
		noErr(t, "Read of an unknown run", err)
		if len(out) != 0 {
			t.Errorf("Read of an unknown run = %v, want nothing", seqs(out))
		}
	}},
	{"FollowReplaysThenDeliversLive", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 3)
		sub := follow(t, b, bg(t), "run-1", 0)
		nextN(t, sub, 1, 3)
		appendN(t, b, "run-1", 4, 2)
		nextN(t, sub, 4, 5)
		finish(t, b, "run-1", 6)
		if ev := next(t, sub, 6); !ev.Final || ev.Type != "done" {
			t.Fatalf("last event = %+v, want the Final event", ev)
		}
		noErr(t, "Err after Final", closed(t, sub))
	}},
	{"FollowFromTheMiddle", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 5)
		sub := follow(t, b, bg(t), "run-1", 3)
		ev := next(t, sub, 4)
		var d struct{ N int64 }
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.N != 4 {
			t.Fatalf("event 4 has data %s", ev.Data)
		}
		next(t, sub, 5)
		appendN(t, b, "run-1", 6, 1)
		next(t, sub, 6)
		// Following from the end replays nothing and waits.
		sub2 := follow(t, b, bg(t), "run-1", 6)
		select {
		case ev := <-sub2.C:
			t.Fatalf("follower from the end got %+v", ev)
		case <-time.After(Quiet):
		}
		finish(t, b, "run-1", 7)
		next(t, sub, 7)
		next(t, sub2, 7)
		noErr(t, "Err", closed(t, sub))
		noErr(t, "Err", closed(t, sub2))
	}},
	{"FollowBeforeTheFirstEvent", func(t *testing.T, b broker.Broker) {
		sub := follow(t, b, bg(t), "run-1", 0)
		select {
		case ev, ok := <-sub.C:
			t.Fatalf("follower of an empty log got %+v (open: %v)", ev, ok)
		case <-time.After(Quiet):
		}
		appendN(t, b, "run-1", 1, 2)
		nextN(t, sub, 1, 2)
		finish(t, b, "run-1", 3)
		next(t, sub, 3)
		noErr(t, "Err", closed(t, sub))
	}},
	{"FollowFinishedLog", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 3)
		finish(t, b, "run-1", 4)
		for after := range int64(6) {
			sub := follow(t, b, bg(t), "run-1", after)
			for s := after + 1; s <= 4; s++ {
				next(t, sub, s)
			}
			noErr(t, fmt.Sprintf("Err (after=%d)", after), closed(t, sub))
		}
	}},
	{"FollowContextCancel", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 2)
		ctx, cancel := context.WithCancel(context.Background())
		sub := follow(t, b, ctx, "run-1", 0)
		nextN(t, sub, 1, 2)
		cancel()
		drainClosed(t, sub, 2)
		noErr(t, "Err after cancel", sub.Err())
		// Appends go on without the follower.
		appendN(t, b, "run-1", 3, 2)
		// A follower canceled while waiting for an empty log closes too.
		ctx2, cancel2 := context.WithCancel(context.Background())
		sub2 := follow(t, b, ctx2, "run-2", 0)
		time.Sleep(50 * time.Millisecond)
		cancel2()
		drainClosed(t, sub2, 0)
		noErr(t, "Err after cancel", sub2.Err())
		// An already canceled ctx: Follow fails or returns a closed follower.
		if sub3, err := b.Follow(ctx2, "run-1", 0); err == nil {
			drainClosed(t, sub3, 0)
		} else {
			wantErr(t, "Follow with a canceled ctx", err, context.Canceled)
		}
	}},
	{"ManyFollowers", func(t *testing.T, b broker.Broker) {
		const followers, events = 16, 200
		var wg sync.WaitGroup
		errs := make(chan error, followers)
		start := func(after int64) {
			sub := follow(t, b, bg(t), "run-1", after)
			wg.Go(func() {
				want := after + 1
				for ev := range sub.C {
					if ev.Seq != want {
						errs <- fmt.Errorf("follower from %d got seq %d, want %d", after, ev.Seq, want)
						return
					}
					want++
				}
				if want != events+1 {
					errs <- fmt.Errorf("follower from %d closed after seq %d (Err: %v), want %d", after, want-1, sub.Err(), events)
				} else if err := sub.Err(); err != nil {
					errs <- fmt.Errorf("follower from %d: Err after Final = %v", after, err)
				}
			})
		}
		for i := range followers / 2 {
			start(int64(i % 3))
		}
		for i := int64(1); i < events; i++ {
			appendN(t, b, "run-1", i, 1)
			if i == events/2 {
				for j := range followers / 2 {
					start(int64(j * 10)) // some replay, some join mid-stream
				}
			}
		}
		finish(t, b, "run-1", events)
		waitGroup(t, &wg)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}},
	{"SlowFollowerDoesNotBlockAppend", func(t *testing.T, b broker.Broker) {
		const events = 2000
		sub := follow(t, b, bg(t), "run-1", 0)
		// Read one event so the follower is surely established, then stop reading.
		appendN(t, b, "run-1", 1, 1)
		next(t, sub, 1)
		done := make(chan error, 1)
		ctx := ctxFor(t, 3*Patience)
		go func() {
			for i := int64(2); i < events; i++ {
				ev := broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
				if seq, err := b.Append(ctx, "run-1", ev); err != nil || seq != i {
					done <- fmt.Errorf("Append = %d, %v; want %d", seq, err, i)
					return
				}
			}
			seq, err := b.Append(ctx, "run-1", broker.Event{Type: "done", Final: true})
			if err == nil && seq != events {
				err = fmt.Errorf("Append(Final) = %d; want %d", seq, events)
			}
			done <- err
		}()
		select {
		case err := <-done:
			noErr(t, "Append while a follower does not read", err)
		case <-time.After(3 * Patience):
			t.Fatalf("Appends blocked by a follower that does not read")
		}
		time.Sleep(Quiet) // the follower stays idle a little longer
		last := drainClosed(t, sub, 1)
		if last == events {
			noErr(t, "Err of a slow follower that got every event", sub.Err())
		} else if sub.Err() == nil {
			t.Fatalf("slow follower closed after seq %d of %d with a nil Err", last, events)
		} else {
			t.Logf("slow follower dropped after seq %d: %v", last, sub.Err())
		}
	}},
	{"FollowFunc", func(t *testing.T, b broker.Broker) {
		type result struct {
			seqs []int64
			err  error
		}
		followFunc := func(run string, after int64, stopAt int64) <-chan result {
			out := make(chan result, 1)
			var seqs []int64
			err := b.FollowFunc(bg(t), run, after, func(ev broker.Event) bool {
				seqs = append(seqs, ev.Seq)
				return ev.Seq != stopAt
			}, func(err error) { out <- result{seqs, err} })
			noErr(t, "FollowFunc", err)
			return out
		}
		wait := func(c <-chan result, want []int64) {
			t.Helper()
			select {
			case r := <-c:
				noErr(t, "FollowFunc done", r.err)
				if !reflect.DeepEqual(r.seqs, want) {
					t.Fatalf("FollowFunc got %v, want %v", r.seqs, want)
				}
			case <-time.After(Patience):
				t.Fatalf("FollowFunc did not end within %s", Patience)
			}
		}
		appendN(t, b, "run-1", 1, 3)
		// fn returning false stops following.
		wait(followFunc("run-1", 0, 2), []int64{1, 2})
		// Live events, then the Final one.
		c := followFunc("run-1", 1, -1)
		appendN(t, b, "run-1", 4, 1)
		finish(t, b, "run-1", 5)
		wait(c, []int64{2, 3, 4, 5})
		// Close ends a waiting follower with ErrClosed.
		done := make(chan error, 1)
		noErr(t, "FollowFunc", b.FollowFunc(bg(t), "run-2", 0, func(broker.Event) bool { return true }, func(err error) { done <- err }))
		time.Sleep(50 * time.Millisecond)
		b.Close()
		select {
		case err := <-done:
			wantErr(t, "FollowFunc done after Close", err, broker.ErrClosed)
		case <-time.After(Patience):
			t.Fatal("FollowFunc did not end after Close")
		}
	}},
	{"RunsAreIndependent", func(t *testing.T, b broker.Broker) {
		const n = 50
		runs := []string{"run-a", "run-b", "run-c"}
		subs := map[string]*broker.Subscription{}
		for _, r := range runs {
			subs[r] = follow(t, b, bg(t), r, 0)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(runs))
		ctx := bg(t)
		for _, r := range runs {
			wg.Go(func() {
				for i := int64(1); i <= n; i++ {
					ev := broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"run":%q,"n":%d}`, r, i))}
					if seq, err := b.Append(ctx, r, ev); err != nil || seq != i {
						errs <- fmt.Errorf("Append(%s) = %d, %v; want %d", r, seq, err, i)
						return
					}
				}
			})
		}
		waitGroup(t, &wg)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		finish(t, b, "run-a", n+1) // finishing one run leaves the others open
		for _, r := range runs {
			sub := subs[r]
			for i := int64(1); i <= n; i++ {
				ev := next(t, sub, i)
				var d struct {
					Run string
					N   int64
				}
				if err := json.Unmarshal(ev.Data, &d); err != nil || d.Run != r || d.N != i {
					t.Fatalf("follower of %s got event %d with data %s", r, i, ev.Data)
				}
			}
			out, err := b.Read(bg(t), r, 0, 0)
			noErr(t, "Read", err)
			if len(out) < n {
				t.Fatalf("Read(%s) has %d events, want at least %d", r, len(out), n)
			}
		}
		next(t, subs["run-a"], n+1)
		noErr(t, "Err", closed(t, subs["run-a"]))
		appendN(t, b, "run-b", n+1, 1)
		next(t, subs["run-b"], n+1)
		select {
		case ev, ok := <-subs["run-c"].C:
			t.Fatalf("follower of run-c got %+v (open: %v) after run-a and run-b changed", ev, ok)
		case <-time.After(Quiet):
		}
	}},
}

func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * Patience):
		t.Fatalf("goroutines did not finish within %v", 3*Patience)
	}
}

// ---- close ----

var closeCases = []testCase{
	{"CloseStopsEverything", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 1)
		enqueue(t, b, testJob("job-1"))
		l := claim(t, b, LongTTL, "job-1")

		claimErr := make(chan error, 1)
		ctx := bg(t)
		go func() {
			_, err := b.Claim(ctx, LongTTL)
			claimErr <- err
		}()
		sub := follow(t, b, bg(t), "run-1", 0)
		next(t, sub, 1)
		time.Sleep(Quiet) // let Claim block

		noErr(t, "Close", b.Close())
		select {
		case err := <-claimErr:
			wantErr(t, "blocked Claim after Close", err, broker.ErrClosed)
		case <-time.After(Patience):
			t.Fatalf("blocked Claim did not return within %v of Close", Patience)
		}
		drainClosed(t, sub, 1)
		wantErr(t, "follower Err after Close", sub.Err(), broker.ErrClosed)

		wantErr(t, "Enqueue after Close", b.Enqueue(bg(t), testJob("job-2")), broker.ErrClosed)
		_, err := b.Claim(bg(t), LongTTL)
		wantErr(t, "Claim after Close", err, broker.ErrClosed)
		wantErr(t, "Extend after Close", b.Extend(bg(t), l, LongTTL), broker.ErrClosed)
		wantErr(t, "Ack after Close", b.Ack(bg(t), l), broker.ErrClosed)
		_, err = b.Fail(bg(t), l, nil, true)
		wantErr(t, "Fail after Close", err, broker.ErrClosed)
		wantErr(t, "Release after Close", b.Release(bg(t), l), broker.ErrClosed)
		_, err = b.Cancel(bg(t), "job-1")
		wantErr(t, "Cancel after Close", err, broker.ErrClosed)
		_, err = b.Append(bg(t), "run-1", broker.Event{Type: "late"})
		wantErr(t, "Append after Close", err, broker.ErrClosed)
		_, err = b.Read(bg(t), "run-1", 0, 0)
		wantErr(t, "Read after Close", err, broker.ErrClosed)
		_, err = b.Follow(bg(t), "run-1", 0)
		wantErr(t, "Follow after Close", err, broker.ErrClosed)

		_ = b.Close() // a second Close must not panic or hang
	}},
}
