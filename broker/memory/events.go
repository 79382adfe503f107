package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// runLog is the event log of one run; b.mu guards it.
type runLog struct {
	// events are in Seq order; Seqs are contiguous except over an Advance.
	events []broker.Event
	// last is the Seq of the last event, or what Advance set.
	last      int64
	final     bool
	followers int
	// parked are followers that have delivered every event and wait for
	// the next Append, without a goroutine.
	parked map[*follower]struct{}
}

// wake starts the delivering goroutine of every parked follower; b.mu is held.
func (r *runLog) wake() {
	for f := range r.parked {
		delete(r.parked, f)
		go f.drain()
	}
}

// finishedRun is a log whose Final event was appended, removed at removeAt.
type finishedRun struct {
	id       string
	log      *runLog
	removeAt time.Time
}

// Append implements broker.EventLog. It never waits for followers. It is safe
// for concurrent use.
func (b *Broker) Append(ctx context.Context, runID string, ev broker.Event) (int64, error) {
	return b.AppendBatch(ctx, runID, []broker.Event{ev})
}

// AppendBatch implements broker.EventLog: the events are added under one
// lock, and followers are woken once. It never waits for followers. It is
// safe for concurrent use.
func (b *Broker) AppendBatch(ctx context.Context, runID string, evs []broker.Event) (int64, error) {
	if err := broker.FinalInside(runID, evs); err != nil {
		return 0, err
	}
	now, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	if len(evs) == 0 {
		return 0, nil
	}
	r := b.runs[runID]
	if r == nil {
		r = &runLog{}
		b.runs[runID] = r
	}
	if r.final {
		return 0, fmt.Errorf("%w: run %q", broker.ErrLogFinished, runID)
	}
	first := r.last + 1
	for _, ev := range evs {
		r.last++
		ev.Seq = r.last
		if ev.At.IsZero() {
			ev.At = now
		}
		ev.Data = slices.Clone(ev.Data)
		r.events = append(r.events, ev)
		if ev.Final {
			r.final = true
			b.finished = append(b.finished, finishedRun{id: runID, log: r, removeAt: now.Add(b.cfg.logRetention)})
		}
	}
	r.wake()
	return first, nil
}

// Last implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Last(ctx context.Context, runID string) (int64, error) {
	if _, err := b.begin(ctx); err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	if r := b.runs[runID]; r != nil && len(r.events) > 0 {
		return r.events[len(r.events)-1].Seq, nil
	}
	return 0, nil
}

// Advance implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Advance(ctx context.Context, runID string, after int64) error {
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	r := b.runs[runID]
	if r == nil {
		r = &runLog{}
		b.runs[runID] = r
	}
	if r.final {
		return fmt.Errorf("%w: run %q", broker.ErrLogFinished, runID)
	}
	r.last = max(r.last, after)
	return nil
}

// Read implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Read(ctx context.Context, runID string, after int64, limit int) ([]broker.Event, error) {
	if _, err := b.begin(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	var evs []broker.Event
	if r := b.runs[runID]; r != nil {
		evs = r.from(after)
	}
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return append([]broker.Event{}, evs...), nil
}

// Follow implements broker.EventLog. The follower reads the log from its own
// position, so it never falls behind for good: it receives every event however
// slowly it reads, and Append never waits for it. Err is nil after a Final
// event or ctx end and broker.ErrClosed after Close. It is safe for concurrent
// use; the Subscription is for one goroutine.
func (b *Broker) Follow(ctx context.Context, runID string, after int64) (*broker.Subscription, error) {
	ch := make(chan broker.Event)
	var (
		errMu sync.Mutex
		err   error
	)
	send := func(ev broker.Event) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
		case <-b.done:
		}
		return false
	}
	done := func(e error) {
		errMu.Lock()
		err = e
		errMu.Unlock()
		close(ch)
	}
	if e := b.FollowFunc(ctx, runID, after, send, done); e != nil {
		return nil, e
	}
	return broker.NewSubscription(ch, func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return err
	}), nil
}

// FollowFunc implements broker.EventLog. done reports nil after the Final
// event, fn's false or ctx end, and broker.ErrClosed after Close. A follower
// keeps no goroutine while it waits for events: Append starts one that
// delivers what is new and returns. It is safe for concurrent use.
func (b *Broker) FollowFunc(ctx context.Context, runID string, after int64, fn func(broker.Event) bool, done func(error)) error {
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	r := b.runs[runID]
	if r == nil {
		r = &runLog{}
		b.runs[runID] = r
	}
	r.followers++
	b.follow.Add(1)
	f := &follower{b: b, ctx: ctx, runID: runID, r: r, fn: fn, done: done, pos: max(after, 0)}
	// Ending ctx wakes a parked follower so that it ends.
	f.stopCtx = context.AfterFunc(ctx, func() {
		b.mu.Lock()
		if _, ok := r.parked[f]; ok {
			delete(r.parked, f)
			go f.drain()
		}
		b.mu.Unlock()
	})
	b.mu.Unlock()
	go f.drain()
	return nil
}

// unfollow drops a follower; a log that only followers created goes with them.
func (b *Broker) unfollow(runID string, r *runLog) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.followers--
	if r.followers == 0 && len(r.events) == 0 && r.last == 0 && b.runs[runID] == r {
		delete(b.runs, runID)
	}
}

// from returns the events with Seq > after. Elements below len(r.events) are
// never modified, so the result may be read after b.mu is released.
func (r *runLog) from(after int64) []broker.Event {
	n := len(r.events)
	i, _ := slices.BinarySearchFunc(r.events, after+1, func(ev broker.Event, seq int64) int { return cmp.Compare(ev.Seq, seq) })
	if i >= n {
		return nil
	}
	return r.events[i:n:n]
}

// purge removes finished logs whose retention has passed.
func (b *Broker) purge(now time.Time) {
	n := 0
	for _, f := range b.finished {
		if f.removeAt.After(now) {
			break
		}
		if b.runs[f.id] == f.log {
			delete(b.runs, f.id)
		}
		n++
	}
	if n > 0 {
		b.finished = slices.Delete(b.finished, 0, n)
	}
}
