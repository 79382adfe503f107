package orchestrator

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
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

// slowLog is an event log whose AppendBatch takes delay (a broker over a
// network) and fails with fail when it is set; it counts the calls.
type slowLog struct {
	broker.EventLog
	delay time.Duration
	calls atomic.Int64
	fail  atomic.Pointer[error]
}

func (l *slowLog) AppendBatch(ctx context.Context, runID string, evs []broker.Event) (int64, error) {
	l.calls.Add(1)
	time.Sleep(l.delay)
	if err := l.fail.Load(); err != nil {
		return 0, *err
	}
	return l.EventLog.AppendBatch(ctx, runID, evs)
}

// TestEmitterCoalescesInOrder: the steps of a run emit side by side over a
// slow broker. The TOKEN events that pile up while an append is in flight
// go in the next one, and the log holds every event once, numbered 1, 2,
// 3..., each step's in the order it emitted them, a step's other events
// after its earlier tokens, and the terminal event last.
func TestEmitterCoalescesInOrder(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()
	log := &slowLog{EventLog: b, delay: 2 * time.Millisecond}
	em := &emitter{log: log, runID: "r"}
	em.reserve = func(context.Context, int64) error { return nil }
	const steps, each = 4, 300
	var wg sync.WaitGroup
	for s := range steps {
		wg.Go(func() {
			for i := range each {
				typ := EventToken
				if i%100 == 99 {
					typ = EventAgentFinished // waits for the tokens before it
				}
				if err := em.emit(ctx, typ, eventData{Agent: strconv.Itoa(s), Text: strconv.Itoa(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := em.emit(ctx, EventRunSucceeded, eventData{}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Read(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != steps*each+1 || !evs[len(evs)-1].Final || em.last.Load() != int64(len(evs)) {
		t.Fatalf("%d events (the last %+v), the emitter at %d; want %d, the terminal one last", len(evs), evs[len(evs)-1], em.last.Load(), steps*each+1)
	}
	next := make([]int, steps)
	for i, e := range evs[:len(evs)-1] {
		d, err := decodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := strconv.Atoi(d.Agent)
		if e.Seq != int64(i+1) || d.Text != strconv.Itoa(next[s]) {
			t.Fatalf("event %d (Seq %d) is step %s's %s, want Seq %d and its %d", i+1, e.Seq, d.Agent, d.Text, i+1, next[s])
		}
		next[s]++
	}
	if calls := log.calls.Load(); calls >= steps*each/2 {
		t.Errorf("%d appends for %d events: the tokens were not coalesced", calls, steps*each+1)
	}
}

// TestEmitterBackgroundErrorSurfaces: a TOKEN event's append fails in the
// background (the broker closed); the next emit reports it, once, and a
// flush reports what is left. A token emitted after the log's end fails
// with ErrLogFinished, reported by flush.
func TestEmitterBackgroundErrorSurfaces(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()
	log := &slowLog{EventLog: b}
	em := &emitter{log: log, runID: "r"}
	closed := broker.ErrClosed
	log.fail.Store(&closed)
	if err := em.emit(ctx, EventToken, eventData{Text: "lost"}); err != nil {
		t.Fatalf("a TOKEN event waited for its append: %v", err)
	}
	if err := em.flush(); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("flush = %v, want the background append's ErrClosed", err)
	}
	if err := em.flush(); err != nil {
		t.Fatalf("second flush = %v, want nil (reported once)", err)
	}
	em.emit(ctx, EventToken, eventData{Text: "lost too"})
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		err = em.emit(ctx, EventToken, eventData{Text: "x"})
	}
	if !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("later emits = %v, want the background append's ErrClosed", err)
	}
	log.fail.Store(nil)
	em.flush()
	if err := em.emit(ctx, EventRunFailed, eventData{Text: "broker gone"}); err != nil {
		t.Fatal(err)
	}
	if err := em.emit(ctx, EventToken, eventData{Text: "late"}); err != nil {
		t.Fatalf("a TOKEN event waited for its append: %v", err)
	}
	if err := em.flush(); !errors.Is(err, broker.ErrLogFinished) {
		t.Fatalf("flush = %v, want ErrLogFinished for a token after the end", err)
	}
}

// TestEmitterOnlyTheEndWaits: over a broker whose appends take 50 ms (a
// network round trip, exaggerated), a run's steps emit their events without
// waiting for them (a turn's dozen events would otherwise cost it a dozen
// round trips); the terminal event waits until it and everything before it
// are in the log, in order.
func TestEmitterOnlyTheEndWaits(t *testing.T) {
	ctx := context.Background()
	b := memory.New()
	defer b.Close()
	log := &slowLog{EventLog: b, delay: 50 * time.Millisecond}
	em := &emitter{log: log, runID: "r"}
	steps := []EventType{EventRunStarted, EventPlan, EventAgentStarted, EventToken, EventAgentCode,
		EventExecutionStarted, EventExecutionResult, EventMessage, EventFollowUps}
	start := time.Now()
	for _, typ := range steps {
		if err := em.emit(ctx, typ, eventData{}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 25*time.Millisecond {
		t.Fatalf("%d events emitted in %v: emit waited for the broker", len(steps), took)
	}
	if err := em.emit(ctx, EventRunSucceeded, eventData{}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.Read(ctx, "r", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(steps)+1 {
		t.Fatalf("the terminal event returned with %d events in the log, want %d", len(evs), len(steps)+1)
	}
	for i, typ := range append(steps, EventRunSucceeded) {
		if evs[i].Type != string(typ) || evs[i].Seq != int64(i+1) {
			t.Fatalf("event %d is %s (Seq %d), want %s (Seq %d)", i, evs[i].Type, evs[i].Seq, typ, i+1)
		}
	}
}
