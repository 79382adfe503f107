package brokertest

import (
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

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
