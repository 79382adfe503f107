package brokertest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// batchCases cover AppendBatch: a batch is numbered like successive Appends,
// contiguously, and is appended whole or not at all.
var batchCases = []testCase{
	{"BatchNumbersInOrder", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 2)
		at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		batch := numbered("run-1", 3, 5)
		batch[1].At = at
		before := time.Now()
		first := appendBatch(t, b, "run-1", batch)
		if first != 3 {
			t.Fatalf("AppendBatch = %d, want 3", first)
		}
		first, err := b.AppendBatch(bg(t), "run-1", nil)
		noErr(t, "AppendBatch of nothing", err)
		if first != 0 {
			t.Fatalf("AppendBatch of nothing = %d, want 0", first)
		}
		appendN(t, b, "run-1", 8, 1)
		out := readAll(t, b, "run-1", 8)
		checkNumbered(t, out)
		if !out[3].At.Equal(at) {
			t.Errorf("event 4 At = %v, want %v (given)", out[3].At, at)
		}
		if e := out[2]; e.At.Before(before.Add(-2*time.Second)) || e.At.After(time.Now().Add(2*time.Second)) {
			t.Errorf("event 3 At = %v, want about now", e.At)
		}
	}},
	{"BatchEndingWithFinal", func(t *testing.T, b broker.Broker) {
		sub := follow(t, b, bg(t), "run-1", 0)
		appendN(t, b, "run-1", 1, 1)
		batch := append(numbered("run-1", 2, 3), broker.Event{Type: "done", Final: true})
		if first := appendBatch(t, b, "run-1", batch); first != 2 {
			t.Fatalf("AppendBatch = %d, want 2", first)
		}
		nextN(t, sub, 1, 4)
		if ev := next(t, sub, 5); !ev.Final {
			t.Fatalf("event 5 = %+v, want the Final event", ev)
		}
		noErr(t, "Err after Final", closed(t, sub))
		_, err := b.AppendBatch(bg(t), "run-1", numbered("run-1", 6, 2))
		wantErr(t, "AppendBatch after Final", err, broker.ErrLogFinished)
		_, err = b.Append(bg(t), "run-1", broker.Event{Type: "late"})
		wantErr(t, "Append after a batch's Final", err, broker.ErrLogFinished)
		wantErr(t, "Advance after a batch's Final", b.Advance(bg(t), "run-1", 100), broker.ErrLogFinished)
		if out := readAll(t, b, "run-1", 5); !out[4].Final {
			t.Fatalf("event 5 = %+v, want Final", out[4])
		}
	}},
	{"FinalInsideBatchRefused", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 2)
		batch := []broker.Event{{Type: "step"}, {Type: "done", Final: true}, {Type: "step"}}
		_, err := b.AppendBatch(bg(t), "run-1", batch)
		wantErr(t, "AppendBatch with a Final event before its end", err, broker.ErrLogFinished)
		readAll(t, b, "run-1", 2) // nothing of the batch was appended
		appendN(t, b, "run-1", 3, 1)
		// Nor to a log that does not exist yet.
		_, err = b.AppendBatch(bg(t), "run-2", batch)
		wantErr(t, "AppendBatch with a Final event before its end", err, broker.ErrLogFinished)
		appendN(t, b, "run-2", 1, 1)
	}},
	{"BatchAfterFinalRefused", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 2)
		finish(t, b, "run-1", 3)
		_, err := b.AppendBatch(bg(t), "run-1", numbered("run-1", 4, 3))
		wantErr(t, "AppendBatch after Final", err, broker.ErrLogFinished)
		_, err = b.AppendBatch(bg(t), "run-1", []broker.Event{{Type: "done", Final: true}})
		wantErr(t, "a second Final in a batch", err, broker.ErrLogFinished)
		readAll(t, b, "run-1", 3)
	}},
	{"BatchAfterAdvance", func(t *testing.T, b broker.Broker) {
		appendN(t, b, "run-1", 1, 2)
		noErr(t, "Advance", b.Advance(bg(t), "run-1", 10))
		sub := follow(t, b, bg(t), "run-1", 2)
		if first := appendBatch(t, b, "run-1", numbered("run-1", 11, 3)); first != 11 {
			t.Fatalf("AppendBatch after Advance(10) = %d, want 11", first)
		}
		nextN(t, sub, 11, 13)
	}},
	{"FollowersSeeEveryBatchedEvent", func(t *testing.T, b broker.Broker) {
		const total = 300
		type got struct {
			from int64
			evs  []broker.Event
			err  error
		}
		results := make(chan got, 8)
		startFollow := func(after int64) {
			sub := follow(t, b, bg(t), "run-1", after)
			go func() {
				var evs []broker.Event
				for ev := range sub.C {
					evs = append(evs, ev)
				}
				results <- got{after, evs, sub.Err()}
			}()
		}
		startFollowFunc := func(after int64) {
			var evs []broker.Event
			noErr(t, "FollowFunc", b.FollowFunc(bg(t), "run-1", after, func(ev broker.Event) bool {
				evs = append(evs, ev)
				return true
			}, func(err error) { results <- got{after, evs, err} }))
		}
		startFollow(0)
		startFollowFunc(0)
		seq := int64(1)
		for size := 1; seq+int64(size) <= total; size = size%17 + 1 {
			appendBatch(t, b, "run-1", numbered("run-1", seq, size))
			seq += int64(size)
			if seq > total/2 && seq-int64(size) <= total/2 {
				startFollow(7) // joins mid-stream, replays from the middle
				startFollowFunc(seq - 1)
			}
		}
		last := append(numbered("run-1", seq, int(total-seq+1)), broker.Event{Type: "done", Final: true})
		appendBatch(t, b, "run-1", last)
		for range 4 {
			var r got
			select {
			case r = <-results:
			case <-time.After(Patience):
				t.Fatal("a follower did not end within Patience after the Final event")
			}
			noErr(t, fmt.Sprintf("follower from %d", r.from), r.err)
			if want := seqRange(r.from+1, total+1); !reflect.DeepEqual(seqs(r.evs), want) {
				t.Fatalf("follower from %d got seqs %v, want %d..%d", r.from, seqs(r.evs), r.from+1, total+1)
			}
			checkNumbered(t, r.evs[:len(r.evs)-1])
		}
	}},
	{"ConcurrentBatchesInterleaveWithoutGaps", func(t *testing.T, b broker.Broker) {
		const writers, batches = 6, 20
		type span struct{ first, n int64 }
		spans := make([][]span, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		ctx := bg(t)
		sub := follow(t, b, ctx, "run-1", 0)
		for w := range writers {
			wg.Go(func() {
				for i := range batches {
					n := (w+i)%7 + 1
					evs := make([]broker.Event, n)
					for j := range evs {
						evs[j] = broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d,"j":%d}`, w, i, j))}
					}
					var first int64
					var err error
					if n == 1 && i%2 == 0 {
						first, err = b.Append(ctx, "run-1", evs[0]) // single appends in between
					} else {
						first, err = b.AppendBatch(ctx, "run-1", evs)
					}
					if err != nil {
						errs <- err
						return
					}
					spans[w] = append(spans[w], span{first, int64(n)})
				}
			})
		}
		waitGroup(t, &wg)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Every batch holds a contiguous span; the spans cover 1..total once.
		var all []int64
		for _, ss := range spans {
			for _, s := range ss {
				all = append(all, seqRange(s.first, s.first+s.n-1)...)
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		total := int64(len(all))
		if !reflect.DeepEqual(all, seqRange(1, total)) {
			t.Fatalf("batches got seqs %v, want 1..%d once each", all, total)
		}
		out := readAll(t, b, "run-1", total)
		for _, ev := range out {
			var d struct{ W, I, J int }
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatalf("event %d data %s: %v", ev.Seq, ev.Data, err)
			}
			if s := spans[d.W][d.I]; ev.Seq != s.first+int64(d.J) {
				t.Fatalf("event %d is writer %d's batch %d event %d, which its batch put at %d", ev.Seq, d.W, d.I, d.J, s.first+int64(d.J))
			}
		}
		nextN(t, sub, 1, total)
	}},
}

// numbered returns n events whose Data numbers them first, first+1, ..., as
// appendN's do.
func numbered(run string, first int64, n int) []broker.Event {
	evs := make([]broker.Event, n)
	for i := range evs {
		evs[i] = broker.Event{Type: "step", Data: json.RawMessage(fmt.Sprintf(`{"run":%q,"n":%d}`, run, first+int64(i)))}
	}
	return evs
}

func appendBatch(t *testing.T, b broker.Broker, run string, evs []broker.Event) int64 {
	t.Helper()
	first, err := b.AppendBatch(bg(t), run, evs)
	if err != nil {
		t.Fatalf("AppendBatch(%s, %d events): %v", run, len(evs), err)
	}
	return first
}

// readAll reads the whole log and checks that it holds the Seqs 1..n.
func readAll(t *testing.T, b broker.Broker, run string, n int64) []broker.Event {
	t.Helper()
	out, err := b.Read(bg(t), run, 0, 0)
	noErr(t, "Read", err)
	if !reflect.DeepEqual(seqs(out), seqRange(1, n)) {
		t.Fatalf("Read(%s) seqs = %v, want 1..%d", run, seqs(out), n)
	}
	return out
}

// checkNumbered checks that events from numbered (or appendN) are at the Seq
// their Data names.
func checkNumbered(t *testing.T, evs []broker.Event) {
	t.Helper()
	for _, ev := range evs {
		var d struct{ N int64 }
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.N != ev.Seq || ev.Type != "step" {
			t.Fatalf("event %d (%s) has data %s", ev.Seq, ev.Type, ev.Data)
		}
	}
}
