package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"golang.org/x/time/rate"

	"github.com/autoanalyst/autoanalyst/broker"
)

// readerBlock is how long one XREAD waits for events. A new run to watch
// wakes the reader at once (through its wake stream), so this only bounds how
// long an idle reader sleeps.
const readerBlock = 5 * time.Second

// reader reads every followed stream of one Broker with one blocking
// connection and fans the events out to the followers.
type reader struct {
	b    *Broker
	conn *goredis.Client // a pool of one connection, for the blocking reads
	wake string          // this reader's wake stream

	mu      sync.Mutex
	runs    map[string]*watched
	version uint64 // counts changes to the set of runs
	started bool
	closed  bool
	done    chan struct{} // closed when the loop has ended
}

// watched is a run the reader reads: from cur on, for followers.
type watched struct {
	cur       int64 // the last seq the reader handed out
	followers map[*follower]struct{}
}

// follower is one Follow or FollowFunc. The reader queues events for it
// without blocking; a goroutine delivers them to fn only while some wait
// (drain), so a follower that waits costs no goroutine.
type follower struct {
	b     *Broker
	ctx   context.Context
	run   string
	limit int // most events that may wait
	fn    func(broker.Event) bool
	done  func(error)
	next  int64 // the next seq fn is owed; only the draining goroutine uses it

	mu       sync.Mutex
	pending  []broker.Event
	ended    bool // no more events will be queued
	draining bool // a goroutine runs drain
	started  bool // the replay from the stream has been delivered
	err      error
	stopCtx  func() bool // unregisters the ctx callback
}

// push queues evs; it never blocks. A follower with more than limit events
// waiting is ended with ErrFollowerTooSlow. It reports false once the
// follower has ended.
func (f *follower) push(evs []broker.Event) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return false
	}
	if len(f.pending)+len(evs) > f.limit {
		f.endLocked(ErrFollowerTooSlow)
		return false
	}
	f.pending = append(f.pending, evs...)
	f.kickLocked()
	return true
}

// end stops the queueing, with err as the follower's Err (nil: none).
func (f *follower) end(err error) {
	f.mu.Lock()
	f.endLocked(err)
	f.mu.Unlock()
}

func (f *follower) endLocked(err error) {
	if f.err == nil {
		f.err = err
	}
	f.ended = true
	f.pending = nil
	f.kickLocked()
}

// kickLocked starts the delivering goroutine unless it runs.
func (f *follower) kickLocked() {
	if !f.draining {
		f.draining = true
		go f.drain()
	}
}

// drain delivers what waits, then returns; when the follower is over it
// unregisters it and calls done.
func (f *follower) drain() {
	for {
		f.mu.Lock()
		evs, ended, replay := f.pending, f.ended, !f.started
		f.pending, f.started = nil, true
		if !ended && !replay && len(evs) == 0 {
			f.draining = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		if ended || (replay && !f.replay()) || !f.deliver(evs) {
			f.finish()
			return
		}
	}
}

// finish ends the follower for good (its goroutine is the last one) and
// reports how it ended.
func (f *follower) finish() {
	f.mu.Lock()
	f.ended, f.pending = true, nil
	err := f.err
	f.mu.Unlock()
	f.stopCtx()
	f.b.reader.remove(f)
	if f.ctx.Err() != nil && !errors.Is(err, broker.ErrClosed) {
		err = nil
	}
	f.done(err)
}

// replay delivers what the stream holds from next on; it reports false when
// nothing more will come.
func (f *follower) replay() bool {
	evs, err := f.b.fill(f.ctx, f, f.next, -1)
	if err != nil {
		f.fail(err)
		return false
	}
	if !f.deliver(evs) {
		return false
	}
	// A finished log whose Final event is before next: nothing will ever come.
	meta, err := f.b.rdb.HMGet(f.ctx, f.b.key("evm:"+f.run), "seq", "final").Result()
	if err == nil && meta[1] == "1" {
		if last, _ := strconv.ParseInt(fmt.Sprint(meta[0]), 10, 64); last < f.next {
			return false
		}
	}
	return f.ctx.Err() == nil
}

// deliver gives fn the events from next on, in order, filling gaps from the
// stream; it reports false when the follower is done (Final, fn's false, ctx,
// an error).
func (f *follower) deliver(evs []broker.Event) bool {
	for _, ev := range evs {
		if ev.Seq < f.next {
			continue
		}
		if f.ctx.Err() != nil {
			return false
		}
		if ev.Seq > f.next {
			gap, err := f.b.fill(f.ctx, f, f.next, ev.Seq-1)
			if err != nil {
				f.fail(err)
				return false
			}
			if f.ctx.Err() != nil {
				return false
			}
			if len(gap) == 0 || gap[0].Seq != f.next || gap[len(gap)-1].Seq != ev.Seq-1 {
				// Seqs up to the log's floor (Advance) were skipped on
				// purpose: pass over them. Others were trimmed away.
				floor, ferr := f.b.floor(f.ctx, f.run)
				if ferr != nil || ev.Seq-1 > floor {
					f.fail(fmt.Errorf("redis broker: run %s: events %d to %d are no longer in the stream", f.run, f.next, ev.Seq-1))
					return false
				}
			}
			for _, g := range gap {
				if !f.fn(g) {
					return false
				}
			}
		}
		if !f.fn(ev) {
			return false
		}
		f.next = ev.Seq + 1
		if ev.Final {
			return false
		}
	}
	return true
}

func (f *follower) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *follower) errFunc() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func newReader(b *Broker) *reader {
	opts := *b.opts
	opts.PoolSize = 1
	opts.MinIdleConns = 0
	opts.MaxIdleConns = 1
	// The options' maintenance-notification settings belong to the caller's
	// client (sharing them fails); the reader needs none.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// Named, so that CLIENT LIST shows which process's reader it is.
	opts.ClientName = strings.Join(strings.Fields(b.cfg.prefix+"reader"), "_")
	return &reader{
		b:    b,
		conn: goredis.NewClient(&opts),
		wake: b.key("rw:" + newToken()),
		runs: map[string]*watched{},
		done: make(chan struct{}),
	}
}

// add registers f, a follower of f.run from after, and starts it.
func (r *reader) add(ctx context.Context, f *follower, after int64) error {
	runID := f.run
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return broker.ErrClosed
	}
	w := r.runs[runID]
	isNew := w == nil
	if isNew {
		w = &watched{cur: after, followers: map[*follower]struct{}{}}
		r.runs[runID] = w
		r.version++
	}
	w.followers[f] = struct{}{}
	if !r.started {
		r.started = true
		go r.loop()
	}
	// Ending ctx ends the follower, without a goroutine waiting for it.
	f.mu.Lock()
	f.stopCtx = context.AfterFunc(f.ctx, func() { f.end(nil) })
	f.kickLocked() // the replay
	f.mu.Unlock()
	r.mu.Unlock()
	if isNew {
		r.poke(ctx)
	}
	return nil
}

// poke wakes the blocked XREAD so that it reads the new set of streams.
func (r *reader) poke(ctx context.Context) {
	err := r.b.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: r.wake, MaxLen: 16, Approx: true, Values: []string{"w", "1"}}).Err()
	if err == nil {
		r.b.rdb.PExpire(ctx, r.wake, 10*time.Minute)
	}
	// On an error the reader notices the new run when its block times out.
}

// remove unregisters a follower.
func (r *reader) remove(f *follower) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.runs[f.run]; w != nil {
		delete(w.followers, f)
		if len(w.followers) == 0 {
			delete(r.runs, f.run)
			r.version++
		}
	}
}

func (r *reader) close() {
	r.mu.Lock()
	r.closed = true
	started := r.started
	for _, w := range r.runs {
		for f := range w.followers {
			f.end(broker.ErrClosed)
		}
	}
	r.runs = map[string]*watched{}
	r.mu.Unlock()
	if started {
		// Unblock the XREAD, then wait for the loop.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.poke(ctx)
		cancel()
		select {
		case <-r.done:
		case <-time.After(readerBlock + 2*time.Second):
		}
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		r.b.rdb.Del(ctx, r.wake)
		cancel()
	}
	r.conn.Close()
}

// readerMinGap spaces XREADs when events keep coming: what arrives within
// it is read in one call rather than one call per event, which keeps the
// reader's cost (a call names every followed stream) from growing with the
// event rate. The spacing is a token bucket of readerBurst calls, so that
// after a quiet moment a few events close together (a run's last events: its
// follow-ups, then its end) are each delivered at once, not readerMinGap
// after the one before.
const (
	readerMinGap = 5 * time.Millisecond
	readerBurst  = 3
)

func (r *reader) loop() {
	defer close(r.done)
	ctx := r.b.stopCtx
	backoff := 50 * time.Millisecond
	var cmd xreadCmd
	pace := rate.NewLimiter(rate.Every(readerMinGap), readerBurst)
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return
		}
		args := cmd.args(r)
		r.mu.Unlock()
		if pace.Wait(ctx) != nil {
			return
		}
		res, err := r.conn.Do(ctx, args...).Result()
		if err == goredis.Nil {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.b.cfg.logf("redis broker: read events: %v (retrying in %s)", err, backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		err = eachStream(res, func(stream string, msgs []goredis.XMessage) {
			if stream == r.wake {
				if n := len(msgs); n > 0 {
					cmd.wakeID = msgs[n-1].ID
				}
				return
			}
			evs, err := decodeMessages(msgs)
			if err != nil || len(evs) == 0 {
				return
			}
			r.b.cfg.metrics.EventReaderLag(time.Since(evs[len(evs)-1].At))
			r.fanOut(strings.TrimPrefix(stream, cmd.prefix), evs)
		})
		if err != nil {
			r.b.cfg.logf("redis broker: read events: %v", err)
		}
	}
}

// xreadCmd keeps the arguments of the reader's XREAD between calls, so that
// a call costs allocations for what changed, not for every followed stream.
type xreadCmd struct {
	prefix  string
	wakeID  string
	all     []any    // XREAD COUNT n BLOCK ms STREAMS keys... ids...
	runs    []string // the followed runs, in the order of their keys
	cur     []int64  // the position each id argument holds
	version uint64   // of the reader's set of runs the arguments are for
}

const xreadFixedArgs = 6 // XREAD COUNT n BLOCK ms STREAMS

// args returns the XREAD arguments for the reader's runs; r.mu is held.
func (c *xreadCmd) args(r *reader) []any {
	if c.all == nil || c.version != r.version {
		c.prefix = r.b.key("ev:")
		if c.wakeID == "" {
			c.wakeID = "0-0"
		}
		c.runs = c.runs[:0]
		for run := range r.runs {
			c.runs = append(c.runs, run)
		}
		c.all = append(c.all[:0], "XREAD", "COUNT", 1000, "BLOCK", readerBlock.Milliseconds(), "STREAMS")
		for _, run := range c.runs {
			c.all = append(c.all, c.prefix+run)
		}
		c.all = append(c.all, r.wake)
		c.cur = c.cur[:0]
		for _, run := range c.runs {
			cur := r.runs[run].cur
			c.cur = append(c.cur, cur)
			c.all = append(c.all, streamID(cur))
		}
		c.all = append(c.all, c.wakeID)
		c.version = r.version
		return c.all
	}
	ids := xreadFixedArgs + len(c.runs) + 1
	for i, run := range c.runs {
		if cur := r.runs[run].cur; cur != c.cur[i] {
			c.cur[i] = cur
			c.all[ids+i] = streamID(cur)
		}
	}
	c.all[len(c.all)-1] = c.wakeID
	return c.all
}

func streamID(seq int64) string { return strconv.FormatInt(seq, 10) + "-0" }

// eachStream calls fn for each stream of an XREAD reply, which is an array
// of [name, entries] pairs (RESP2) or a map of name to entries (RESP3).
func eachStream(reply any, fn func(stream string, msgs []goredis.XMessage)) error {
	switch v := reply.(type) {
	case map[any]any:
		for name, entries := range v {
			msgs, err := xMessages(entries)
			if err != nil {
				return err
			}
			fn(fmt.Sprint(name), msgs)
		}
		return nil
	case []any:
		for _, pair := range v {
			p, ok := pair.([]any)
			if !ok || len(p) != 2 {
				return fmt.Errorf("XREAD reply: unexpected stream entry %T", pair)
			}
			msgs, err := xMessages(p[1])
			if err != nil {
				return err
			}
			fn(fmt.Sprint(p[0]), msgs)
		}
		return nil
	}
	return fmt.Errorf("XREAD reply: unexpected %T", reply)
}

// xMessages converts a stream's entries, [[id, [field, value, ...]], ...].
func xMessages(entries any) ([]goredis.XMessage, error) {
	list, ok := entries.([]any)
	if !ok {
		return nil, fmt.Errorf("XREAD reply: entries are %T", entries)
	}
	msgs := make([]goredis.XMessage, 0, len(list))
	for _, e := range list {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("XREAD reply: entry is %T", e)
		}
		id, _ := pair[0].(string)
		fields, _ := pair[1].([]any)
		values := make(map[string]any, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			values[k] = fields[i+1]
		}
		msgs = append(msgs, goredis.XMessage{ID: id, Values: values})
	}
	return msgs, nil
}

// fanOut queues evs for every follower of run without ever blocking: a
// follower with too many events waiting is dropped.
func (r *reader) fanOut(run string, evs []broker.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.runs[run]
	if w == nil {
		return
	}
	if last := evs[len(evs)-1].Seq; last > w.cur {
		w.cur = last
	}
	for f := range w.followers {
		if !f.push(evs) {
			delete(w.followers, f)
		}
	}
	if len(w.followers) == 0 {
		delete(r.runs, run)
		r.version++
	}
}
