package orchestrator

import (
	"context"
	"sync"
	"testing"

	"github.com/autoanalyst/autoanalyst/broker/memory"
)

// TestEmitterNoticesALostLog: an emitter whose log was lost under it (its
// append gets a Seq it already used) moves the log past its reservation, so
// that the next events follow every Seq clients may have seen.
func TestEmitterNoticesALostLog(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()
	em := &emitter{log: b, runID: "r", reserved: 1000}
	em.reserve = func(context.Context, int64) error { return nil }
	em.seen(57) // this attempt appended up to 57 before the broker lost the log
	for _, tc := range []struct {
		typ  EventType
		want int64
	}{
		{EventToken, 1000}, // the lost log's first append: noticed, the log jumps
		{EventToken, 1001}, // then follows on
		{EventRunSucceeded, 1002},
	} {
		if err := em.emit(ctx, tc.typ, eventData{}); err != nil {
			t.Fatal(err)
		}
		if err := em.flush(); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Last(ctx, "r"); tc.want != 1000 && got != tc.want {
			t.Fatalf("after %s: last seq %d, want %d", tc.typ, got, tc.want)
		}
		if got := em.last.Load(); got < tc.want {
			t.Fatalf("after %s: the emitter is at %d, want at least %d", tc.typ, got, tc.want)
		}
	}
}

// TestEmitterConcurrentAppendsKeepSeq: the steps of a run append side by
// side (a deep analysis's, a turn's housekeeping); an append answered after
// a later one is not a lost log, so the Seqs stay 1, 2, 3... with no jump.
func TestEmitterConcurrentAppendsKeepSeq(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()
	em := &emitter{log: b, runID: "r"}
	em.reserve = func(context.Context, int64) error { return nil }
	const steps, each = 8, 200
	var wg sync.WaitGroup
	for range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := em.emit(ctx, EventToken, eventData{Text: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := em.flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Last(ctx, "r"); got != steps*each {
		t.Fatalf("last seq %d after %d appends: the log jumped", got, steps*each)
	}
}
