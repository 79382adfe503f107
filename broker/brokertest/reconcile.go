package brokertest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// reconcileCases cover what a reconciler of the queue and the database
// relies on: Lookup of a job in each state, and Last and Advance, by which a
// log lost with its broker's data goes on past the Seqs its followers saw.
var reconcileCases = []testCase{
	{"LookupStates", func(t *testing.T, b broker.Broker) {
		ctx := bg(t)
		want := func(id string, state broker.JobState, attempts int) broker.JobInfo {
			t.Helper()
			info, err := b.Lookup(ctx, id)
			noErr(t, "Lookup", err)
			if info.State != state || info.Attempts != attempts {
				t.Fatalf("Lookup(%s) = %+v, want %s after %d attempts", id, info, state, attempts)
			}
			return info
		}
		want("nope", broker.JobUnknown, 0)
		enqueue(t, b, testJob("a"))
		want("a", broker.JobQueued, 0)
		l := claim(t, b, LongTTL, "a")
		want("a", broker.JobRunning, 1)
		willRetry, err := b.Fail(ctx, l, errors.New("flaky"), true)
		noErr(t, "Fail", err)
		if !willRetry {
			t.Fatal("Fail(retry) on attempt 1 will not retry")
		}
		want("a", broker.JobQueued, 1)
		l = claim(t, b, LongTTL, "a")
		_, err = b.Fail(ctx, l, errors.New("broken for good"), false)
		noErr(t, "Fail", err)
		if info := want("a", broker.JobDead, 2); !strings.Contains(info.Reason, "broken for good") {
			t.Errorf("dead job's reason %q does not say why", info.Reason)
		}
		if _, err := b.Cancel(ctx, "a"); !errors.Is(err, broker.ErrJobNotFound) {
			t.Errorf("Cancel of a dead job: %v, want ErrJobNotFound", err)
		}
		enqueue(t, b, testJob("b"))
		noErr(t, "Ack", b.Ack(ctx, claim(t, b, LongTTL, "b")))
		want("b", broker.JobUnknown, 0)
	}},
	{"LookupDeadByLeaseExpiry", func(t *testing.T, b broker.Broker) {
		// A worker that dies on the job's last attempt: the next Claim
		// dead-letters it, and Lookup says so and why.
		j := testJob("last")
		j.MaxAttempts = 1
		enqueue(t, b, j)
		claim(t, b, ShortTTL, "last")
		time.Sleep(ShortTTL + 50*time.Millisecond)
		deadline := time.Now().Add(Patience)
		for {
			cctx, cancel := context.WithTimeout(bg(t), 50*time.Millisecond)
			if l, err := b.Claim(cctx, LongTTL); err == nil {
				cancel()
				t.Fatalf("claimed %+v after its last attempt", l)
			}
			cancel()
			info, err := b.Lookup(bg(t), "last")
			noErr(t, "Lookup", err)
			if info.State == broker.JobDead {
				if !strings.Contains(info.Reason, "lease") {
					t.Errorf("reason %q does not name the lease's expiry", info.Reason)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Lookup = %+v, want dead", info)
			}
		}
	}},
	{"AdvanceSkipsSeqs", func(t *testing.T, b broker.Broker) {
		ctx := bg(t)
		last := func(run string, want int64) {
			t.Helper()
			got, err := b.Last(ctx, run)
			noErr(t, "Last", err)
			if got != want {
				t.Fatalf("Last(%s) = %d, want %d", run, got, want)
			}
		}
		last("r", 0)
		appendN(t, b, "r", 1, 3)
		last("r", 3)
		sub := follow(t, b, bg(t), "r", 3)
		noErr(t, "Advance", b.Advance(ctx, "r", 10))
		noErr(t, "Advance (behind)", b.Advance(ctx, "r", 5))
		last("r", 3)
		appendN(t, b, "r", 11, 2)
		last("r", 12)
		next(t, sub, 11) // the follower passes over 4..10 without a gap error
		next(t, sub, 12)
		late := follow(t, b, bg(t), "r", 2)
		nextN(t, late, 3, 3)
		next(t, late, 11)
		evs, err := b.Read(ctx, "r", 0, 0)
		noErr(t, "Read", err)
		if got := seqs(evs); !reflect.DeepEqual(got, []int64{1, 2, 3, 11, 12}) {
			t.Fatalf("Read seqs = %v, want 1 2 3 11 12", got)
		}
		if evs, _ := b.Read(ctx, "r", 5, 0); !reflect.DeepEqual(seqs(evs), []int64{11, 12}) {
			t.Fatalf("Read after 5 = %v, want 11 12", seqs(evs))
		}
		finish(t, b, "r", 13)
		next(t, sub, 13)
		wantErr(t, "Advance after Final", b.Advance(ctx, "r", 100), broker.ErrLogFinished)
	}},
	{"AdvanceLostLog", func(t *testing.T, b broker.Broker) {
		// A log that is gone (a Redis server that lost its data, a
		// restarted embedded process) goes on past what followers saw.
		ctx := bg(t)
		sub := follow(t, b, bg(t), "lost", 192)
		noErr(t, "Advance", b.Advance(ctx, "lost", 192))
		appendN(t, b, "lost", 193, 2)
		next(t, sub, 193)
		next(t, sub, 194)
		finish(t, b, "lost", 195)
		next(t, sub, 195)
		if err := closed(t, sub); err != nil {
			t.Fatalf("follower ended with %v", err)
		}
	}},
}
