package brokertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

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
