package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Follow streams the events of one of the viewer's runs whose sequence
// number is above after: from the broker's log while it lasts (replayed,
// then live), else from the copy stored with the finished run. Each event
// goes to send, in order, from a goroutine of the broker's (or of Follow's,
// for a stored copy): no goroutine waits per follower. Following stops when
// send returns false, after the run's last event, or when ctx is done; then
// end is called once. A follower that falls behind is resumed from its last
// event, so that it misses none. Events are shared between followers and must
// not be modified. Another user's run is not found; an error means that
// neither send nor end is called.
func (s *Service) Follow(ctx context.Context, runID string, after int64, send func(*Event) bool, end func()) error {
	if after < 0 {
		return errcode.Field("after", "must be >= 0")
	}
	// Privacy: another user's run is not found.
	r, err := s.cfg.DB.Run.Get(ctx, runID)
	if err != nil {
		return fmt.Errorf("load run %s: %w", runID, err)
	}
	deliver := func(e broker.Event) bool {
		ev, err := s.event(runID, e)
		if err != nil {
			s.cfg.Logger.Error().Err(err).Str("run", runID).Msg("decode run event")
			return true
		}
		return send(ev)
	}
	head, err := s.cfg.Broker.Read(ctx, runID, 0, 1)
	if err != nil {
		return fmt.Errorf("read the events of run %s: %w", runID, err)
	}
	if len(head) == 0 && r.FinishedAt != nil {
		// The broker's log expired: replay the stored copy.
		evs, err := storedEvents(r)
		if err != nil {
			return err
		}
		go func() {
			defer end()
			for _, e := range evs {
				if e.Seq > after && !deliver(e) {
					return
				}
			}
		}()
		return nil
	}
	last := after
	var follow func(after int64) error
	follow = func(after int64) error {
		return s.cfg.Broker.FollowFunc(ctx, runID, after, func(e broker.Event) bool {
			if !deliver(e) {
				return false
			}
			last = e.Seq
			return true
		}, func(err error) {
			if err != nil && !errors.Is(err, broker.ErrClosed) && ctx.Err() == nil {
				// The follower fell behind (a slow client): resume from the
				// last event sent, so the client sees no gap.
				s.cfg.Logger.Debug().Err(err).Str("run", runID).Int64("after", last).Msg("following the run again")
				if err = follow(last); err == nil {
					return
				}
			}
			if errors.Is(err, broker.ErrClosed) && ctx.Err() == nil {
				// The broker closed under a follower of a run that has not
				// ended (this process stops): the subscription is not
				// completed, which would tell the client the run is over;
				// it ends with its connection, which the server closes
				// with 1001 (going away) so that the client resumes
				// elsewhere with after.
				context.AfterFunc(ctx, end)
				return
			}
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn().Err(err).Str("run", runID).Msg("run event subscription ended early")
			}
			end()
		})
	}
	if err := follow(after); err != nil {
		return fmt.Errorf("follow run %s: %w", runID, err)
	}
	return nil
}

// storedEvents returns the events kept in a finished run's row (for when the
// broker's copy has expired).
func storedEvents(r *ent.Run) ([]broker.Event, error) {
	if len(r.Events) == 0 {
		return nil, nil
	}
	var evs []broker.Event
	if err := json.Unmarshal(r.Events, &evs); err != nil {
		return nil, fmt.Errorf("decode stored events of run %s: %w", r.ID, err)
	}
	return evs, nil
}

// decodedEvents is how many decoded events a Service keeps: the followers of
// one run on this process are handed the same event at about the same time,
// and decode it once.
const decodedEvents = 4096

type eventKey struct {
	run string
	seq int64
}

// newEventCache returns the cache of decoded events.
func newEventCache() *lru.Cache[eventKey, *Event] {
	c, _ := lru.New[eventKey, *Event](decodedEvents) // fails only for a size <= 0
	return c
}

// event decodes e, once for all the followers of its run.
func (s *Service) event(runID string, e broker.Event) (*Event, error) {
	key := eventKey{runID, e.Seq}
	if ev, ok := s.decoded.Get(key); ok {
		return ev, nil
	}
	ev, err := decodeEvent(e)
	if err != nil {
		return nil, err
	}
	s.decoded.Add(key, ev)
	return ev, nil
}
