package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
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
		ErrorCode: runErrorCode(d.ErrorCode),
		MessageID: str(d.MessageID),
		Plan:      toPlan(d.Plan),
	}
	if d.Result != nil {
		ev.Result = toExecutionResult(d.Result)
	}
	return ev, nil
}

// runErrorCode maps an event's error code to the enum: none is nil, and a
// code the enum lacks (an event of another version) is INTERNAL.
func runErrorCode(code string) *model.RunErrorCode {
	if code == "" {
		return nil
	}
	c := model.RunErrorCode(code)
	if !c.IsValid() {
		c = model.RunErrorCodeInternal
	}
	return &c
}

// toPlan maps a plan (nil stays nil). A complexity the enum lacks counts as
// INTERMEDIATE, as the rater's unreadable answers do.
func toPlan(p *orchestrator.Plan) *model.Plan {
	if p == nil {
		return nil
	}
	c := model.PlanComplexity(strings.ToUpper(p.Complexity))
	if !c.IsValid() {
		c = model.PlanComplexityIntermediate
	}
	out := &model.Plan{Complexity: c, Steps: make([]*model.PlanStep, 0, len(p.Steps))}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, &model.PlanStep{Agent: s.Agent, Instruction: s.Instruction, Create: s.Create, Use: s.Use})
	}
	return out
}

// deepPlan reads the plan a report stores as JSON: null before the planning
// step, and (logged) when it cannot be read.
func (r *Resolver) deepPlan(rep *ent.DeepAnalysisReport) *model.Plan {
	if strings.TrimSpace(rep.DeepPlan) == "" {
		return nil
	}
	var p orchestrator.Plan
	if err := json.Unmarshal([]byte(rep.DeepPlan), &p); err != nil {
		r.Logger.Warn().Err(err).Str("report", rep.ID).Msg("unreadable deep plan")
		return nil
	}
	return toPlan(&p)
}

// storedResult reads what an answer's code produced, stored with its code
// execution: null when nothing was stored, and (logged) when it cannot be
// read.
func (r *Resolver) storedResult(ce *ent.CodeExecution) *model.ExecutionResult {
	res, err := orchestrator.DecodeResult(ce.Result)
	if err != nil {
		r.Logger.Warn().Err(err).Str("execution", ce.ID).Msg("unreadable stored result")
	}
	if res == nil {
		return nil
	}
	return toExecutionResult(res)
}

// toExecutionResult maps an executor's result, as events carry it and code
// executions store it.
func toExecutionResult(res *executor.Result) *model.ExecutionResult {
	out := &model.ExecutionResult{
		Ok:         res.OK,
		Stdout:     res.Stdout,
		Stderr:     res.Stderr,
		Figures:    res.Figures,
		Images:     res.Images,
		Tables:     make([]*executor.Table, 0, len(res.Tables)),
		DurationMs: int(res.Duration.Milliseconds()),
	}
	if out.Figures == nil {
		out.Figures = []json.RawMessage{}
	}
	if out.Images == nil {
		out.Images = []string{}
	}
	for i := range res.Tables {
		out.Tables = append(out.Tables, &res.Tables[i])
	}
	if e := res.Error; e != nil {
		msg := e.Type
		if e.Message != "" {
			msg += ": " + e.Message
		}
		out.Error = &msg
		out.ErrorType = str(e.Type)
		out.ErrorAgent = str(e.Agent)
		out.Traceback = str(e.Traceback)
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
