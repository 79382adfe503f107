package brokertest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

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
