package memory

import (
	"context"

	"github.com/autoanalyst/autoanalyst/broker"
)

// follower is one FollowFunc of the memory broker.
type follower struct {
	b       *Broker
	ctx     context.Context
	runID   string
	r       *runLog
	fn      func(broker.Event) bool
	done    func(error)
	stopCtx func() bool
	pos     int64 // the last Seq delivered; only the draining goroutine uses it
}

// drain delivers the events after pos, then parks the follower (or ends it).
func (f *follower) drain() {
	for {
		f.b.mu.Lock()
		if f.b.closed {
			f.b.mu.Unlock()
			f.finish(broker.ErrClosed)
			return
		}
		if f.ctx.Err() != nil {
			f.b.mu.Unlock()
			f.finish(nil)
			return
		}
		evs, final := f.r.from(f.pos), f.r.final
		if len(evs) == 0 {
			if final {
				f.b.mu.Unlock()
				f.finish(nil)
				return
			}
			if f.r.parked == nil {
				f.r.parked = map[*follower]struct{}{}
			}
			f.r.parked[f] = struct{}{}
			f.b.mu.Unlock()
			return
		}
		f.b.mu.Unlock()
		for _, ev := range evs {
			if stop, err := f.stopped(); stop {
				f.finish(err)
				return
			}
			if !f.fn(ev) {
				_, err := f.stopped() // fn may have given up because the broker closed
				f.finish(err)
				return
			}
			f.pos = ev.Seq
			if ev.Final {
				f.finish(nil)
				return
			}
		}
	}
}

// stopped reports whether following must stop, and with what error.
func (f *follower) stopped() (bool, error) {
	select {
	case <-f.b.done:
		return true, broker.ErrClosed
	default:
	}
	return f.ctx.Err() != nil, nil
}

// finish ends the follower: it reports err through done.
func (f *follower) finish(err error) {
	f.stopCtx()
	f.b.unfollow(f.runID, f.r)
	f.done(err)
	f.b.follow.Done()
}
