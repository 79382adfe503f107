package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/graph/model"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// followRun streams a run's events after a sequence number: from the broker's
// log while it lasts, else from the copy stored with the finished run.
func (r *Resolver) followRun(ctx context.Context, runID string, after *int) (<-chan *model.RunEvent, error) {
	from := int64(0)
	if after != nil {
		if *after < 0 {
			return nil, errcode.Field("after", "must be >= 0")
		}
		from = int64(*after)
	}
	// Privacy: another user's run is not found.
	run, err := r.DB.Run.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.RunEvent, 16)
	send := func(e broker.Event) bool {
		ev, err := r.runEvent(runID, e)
		if err != nil {
			r.Logger.Error().Err(err).Str("run", runID).Msg("decode run event")
			return true
		}
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	head, err := r.Events.Read(ctx, runID, 0, 1)
	if err != nil {
		return nil, err
	}
	if len(head) == 0 && run.FinishedAt != nil {
		// The broker's log expired: replay the stored copy.
		evs, err := orchestrator.StoredEvents(run)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(out)
			for _, e := range evs {
				if e.Seq > from && !send(e) {
					return
				}
			}
		}()
		return out, nil
	}
	// The broker's follower goroutine converts and sends: no goroutine of
	// our own per subscriber.
	last := from
	var follow func(after int64) error
	follow = func(after int64) error {
		return r.Events.FollowFunc(ctx, runID, after, func(e broker.Event) bool {
			if !send(e) {
				return false
			}
			last = e.Seq
			return true
		}, func(err error) {
			if err != nil && !errors.Is(err, broker.ErrClosed) && ctx.Err() == nil {
				// The follower fell behind (a slow client): resume from the
				// last event sent, so the client sees no gap.
				r.Logger.Debug().Err(err).Str("run", runID).Int64("after", last).Msg("following the run again")
				if err = follow(last); err == nil {
					return
				}
			}
			if err != nil && ctx.Err() == nil {
				r.Logger.Warn().Err(err).Str("run", runID).Msg("run event subscription ended early")
			}
			close(out)
		})
	}
	if err := follow(from); err != nil {
		return nil, err
	}
	return out, nil
}

// decodedEvents is how many decoded events the Resolver keeps: the
// subscribers of one run on this process are handed the same event at about
// the same time, and decode it once.
const decodedEvents = 4096

type eventKey struct {
	run string
	seq int64
}

// runEvent decodes e, once for all the subscribers of its run. The result is
// shared: it must not be modified.
func (r *Resolver) runEvent(runID string, e broker.Event) (*model.RunEvent, error) {
	r.decodedOnce.Do(func() { r.decoded, _ = lru.New[eventKey, *model.RunEvent](decodedEvents) })
	key := eventKey{runID, e.Seq}
	if ev, ok := r.decoded.Get(key); ok {
		return ev, nil
	}
	ev, err := toRunEvent(e)
	if err != nil {
		return nil, err
	}
	r.decoded.Add(key, ev)
	return ev, nil
}

func toRunEvent(e broker.Event) (*model.RunEvent, error) {
	d, err := orchestrator.DecodeEvent(e)
	if err != nil {
		return nil, err
	}
	ev := &model.RunEvent{
		Seq:       int(d.Seq),
		Type:      model.RunEventType(d.Type),
		At:        d.At,
		Agent:     str(d.Agent),
		Text:      str(d.Text),
		Code:      str(d.Code),
		Progress:  d.Progress,
		ErrorCode: str(d.ErrorCode),
		MessageID: str(d.MessageID),
	}
	if d.Plan != nil {
		p := &model.Plan{Complexity: d.Plan.Complexity}
		for _, s := range d.Plan.Steps {
			p.Steps = append(p.Steps, &model.PlanStep{Agent: s.Agent, Instruction: s.Instruction, Create: s.Create, Use: s.Use})
		}
		ev.Plan = p
	}
	if d.Result != nil {
		ev.Result = toExecutionResult(d.Result)
	}
	return ev, nil
}

func toExecutionResult(res *executor.Result) *model.ExecutionResult {
	out := &model.ExecutionResult{
		Ok:         res.OK,
		Stdout:     res.Stdout,
		Stderr:     res.Stderr,
		Figures:    make([]string, 0, len(res.Figures)),
		Images:     res.Images,
		Tables:     []*model.ResultTable{},
		DurationMs: int(res.Duration.Milliseconds()),
	}
	if out.Images == nil {
		out.Images = []string{}
	}
	for _, f := range res.Figures {
		out.Figures = append(out.Figures, string(f))
	}
	for _, t := range res.Tables {
		rt := &model.ResultTable{Columns: t.Columns, Rows: make([]string, 0, len(t.Rows)), Truncated: t.Truncated}
		for _, row := range t.Rows {
			b, _ := json.Marshal(row)
			rt.Rows = append(rt.Rows, string(b))
		}
		out.Tables = append(out.Tables, rt)
	}
	if e := res.Error; e != nil {
		msg := e.Type
		if e.Message != "" {
			msg += ": " + e.Message
		}
		out.Error = &msg
		out.ErrorType = str(e.Type)
		out.ErrorAgent = str(e.Agent)
		if e.Line > 0 {
			l := e.Line
			out.ErrorLine = &l
		}
	}
	return out
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
