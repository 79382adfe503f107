package orchestrator

import (
	"context"
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
		if got, _ := b.Last(ctx, "r"); tc.want != 1000 && got != tc.want {
			t.Fatalf("after %s: last seq %d, want %d", tc.typ, got, tc.want)
		}
		if got := em.last.Load(); got < tc.want {
			t.Fatalf("after %s: the emitter is at %d, want at least %d", tc.typ, got, tc.want)
		}
	}
}
