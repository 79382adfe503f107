package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/executor"
)

// EventType names a run event. The values are the GraphQL RunEventType enum.
type EventType string

// Event types.
const (
	EventRunStarted       EventType = "RUN_STARTED"
	EventPlan             EventType = "PLAN"
	EventAgentStarted     EventType = "AGENT_STARTED"
	EventToken            EventType = "TOKEN"
	EventAgentCode        EventType = "AGENT_CODE"
	EventAgentFinished    EventType = "AGENT_FINISHED"
	EventExecutionStarted EventType = "EXECUTION_STARTED"
	EventExecutionResult  EventType = "EXECUTION_RESULT"
	EventMessage          EventType = "MESSAGE"
	EventStep             EventType = "STEP"
	EventRunSucceeded     EventType = "RUN_SUCCEEDED"
	EventRunFailed        EventType = "RUN_FAILED"
	EventRunCancelled     EventType = "RUN_CANCELLED"
	// EventRunRestarted says that an attempt was abandoned (its worker
	// stopped, or the broker lost the run's events) and a new one starts:
	// a client drops what it showed of the run since its last RUN_STARTED.
	EventRunRestarted EventType = "RUN_RESTARTED"
	// EventFollowUps carries the questions an answer suggests asking next.
	EventFollowUps EventType = "FOLLOW_UPS"
	// EventFiles says that files the code wrote to /tmp/outputs were stored
	// (Files).
	EventFiles EventType = "FILES"
)

// Terminal reports whether t ends a run.
func (t EventType) Terminal() bool {
	return t == EventRunSucceeded || t == EventRunFailed || t == EventRunCancelled
}

// Error codes carried by RUN_FAILED events.
const (
	CodeModelNotConfigured = "MODEL_NOT_CONFIGURED"
	CodeModelError         = "MODEL_ERROR"
	CodeExecutionError     = "EXECUTION_ERROR"
	CodeSandboxUnavailable = "SANDBOX_UNAVAILABLE"
	CodeBadInput           = "BAD_USER_INPUT"
	CodeInternal           = "INTERNAL"
)

// PlanStep is one agent's part of a plan.
type PlanStep struct {
	Agent       string   `json:"agent"`
	Instruction string   `json:"instruction"`
	Create      []string `json:"create"`
	Use         []string `json:"use"`
}

// Plan is what the planner decided.
type Plan struct {
	Complexity string     `json:"complexity"`
	Steps      []PlanStep `json:"steps"`
}

// eventData is the payload of a run event, as it is appended.
type eventData struct {
	Agent     string           `json:"agent,omitempty"`
	Text      string           `json:"text,omitempty"`
	Code      string           `json:"code,omitempty"`
	Progress  *int             `json:"progress,omitempty"`
	Result    *executor.Result `json:"result,omitempty"`
	Plan      *Plan            `json:"plan,omitempty"`
	MessageID string           `json:"messageId,omitempty"`
	ErrorCode string           `json:"errorCode,omitempty"`
	Files     []FileInfo       `json:"files,omitempty"`
	FollowUps []string         `json:"followUps,omitempty"`
}

// Event is one event of a run, as following the run yields it. Its payload
// fields are those its type carries; the others are empty.
type Event struct {
	Seq  int64     `json:"-"`
	Type EventType `json:"-"`
	At   time.Time `json:"-"`
	// Agent is the agent (or step) the event is about.
	Agent string `json:"agent,omitempty"`
	Text  string `json:"text,omitempty"`
	Code  string `json:"code,omitempty"`
	// Progress is a deep analysis's progress, in percent.
	Progress *int `json:"progress,omitempty"`
	// Result is what an execution produced (EXECUTION_RESULT).
	Result *Result `json:"result,omitempty"`
	// Plan is the planner's plan (PLAN).
	Plan *Plan `json:"plan,omitempty"`
	// MessageID is the stored answer (MESSAGE).
	MessageID string `json:"messageId,omitempty"`
	// ErrorCode is why the run failed (RUN_FAILED): one of the Code constants.
	ErrorCode string `json:"errorCode,omitempty"`
	// FollowUps are the suggested next questions (FOLLOW_UPS).
	FollowUps []string `json:"followUps,omitempty"`
	// Files are the output files stored (FILES).
	Files []FileInfo `json:"files,omitempty"`
}

// decodeEvent decodes a broker event (the payload eventData encoded).
func decodeEvent(e broker.Event) (*Event, error) {
	out := &Event{}
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, out); err != nil {
			return nil, fmt.Errorf("decode event %d: %w", e.Seq, err)
		}
	}
	out.Seq, out.Type, out.At = e.Seq, EventType(e.Type), e.At
	return out, nil
}

// emitter appends the events of one run, in the order emit is called. It
// is safe for concurrent use.
//
// One writer goroutine at a time appends what was emitted, in order: an
// event is handed to it and emit returns at once, so that neither a model's
// stream nor the run's next step waits for the broker (on Redis, a round
// trip each); only the terminal event waits until it is in the log, with
// everything emitted before it. Whatever was emitted while the writer's
// last append was in flight goes in its next one (AppendBatch: one Redis
// round trip), so the batches grow with the broker's latency and nothing
// waits for a timer. A failed append is reported by the next emit or flush;
// the worker flushes before the run's end.
type emitter struct {
	log   broker.EventLog
	runID string
	// last is the Seq of the last event appended through it (or found in
	// the log when the attempt began), for the worker's checkpoints.
	last atomic.Int64
	// reserve, when set, stores a new bound of the Seqs the run may use
	// (the run's seq_reserved); reserved is the bound stored. Appends
	// never go past it, so that a log lost with the broker's data can go
	// on after every Seq a follower may have seen. Both are set before
	// the first emit; then only the writer uses reserved.
	reserve  func(ctx context.Context, upTo int64) error
	reserved int64

	mu sync.Mutex // guards what follows
	// queue holds the events emitted and not yet handed to AppendBatch.
	queue []*pendingEvent
	// writing says that a writer goroutine runs; idle is signalled when it
	// stops.
	writing bool
	idle    sync.Cond
	// err is the first failure of an append nobody waited for (any but a
	// terminal event's), not yet returned by emit or flush.
	err error
}

// pendingEvent is an event emitted and not yet appended.
type pendingEvent struct {
	ev broker.Event
	// done receives the append's outcome; nil when nobody waits.
	done chan error
}

// maxBatch bounds the events of one append (one Redis script call).
const maxBatch = 256

// reserveBlock is how many Seqs one reservation covers: a run's worker
// writes its row once per this many events.
const reserveBlock = 1000

// ensureReserved raises the reservation before an append of n events would
// pass it. Only the writer calls it.
func (e *emitter) ensureReserved(ctx context.Context, n int) error {
	if e.reserve == nil {
		return nil
	}
	// Room for the appends of other emitters of the run (its end).
	need := e.last.Load() + int64(n)
	if need+reserveBlock/10 < e.reserved {
		return nil
	}
	upTo := need + reserveBlock
	if err := e.reserve(ctx, upTo); err != nil {
		return fmt.Errorf("reserve event numbers of run %s: %w", e.runID, err)
	}
	e.reserved = upTo
	return nil
}

// emit appends an event of type t after those emitted before it. The event
// is appended in the background: emit returns at once, with the failure of
// an earlier background append if one is unreported. A terminal event is
// appended (with the events before it) before emit returns, with the
// append's error.
func (e *emitter) emit(ctx context.Context, t EventType, d eventData) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", t, err)
	}
	p := &pendingEvent{ev: broker.Event{Type: string(t), At: time.Now().UTC(), Data: b, Final: t.Terminal()}}
	if t.Terminal() {
		p.done = make(chan error, 1)
	}
	e.mu.Lock()
	e.queue = append(e.queue, p)
	// Events are appended even when ctx was cancelled: a cancelled run
	// still reports how it ended.
	wctx := context.WithoutCancel(ctx)
	if !e.writing {
		e.writing = true
		if p.done != nil {
			// Nothing in flight and a caller that waits anyway: it writes
			// its own event (and what comes meanwhile) itself, without a
			// goroutine's hand-over each way.
			e.mu.Unlock()
			e.write(wctx, p)
			return <-p.done
		}
		go e.write(wctx, nil)
	}
	if p.done == nil {
		err, e.err = e.err, nil
		e.mu.Unlock()
		return err
	}
	e.mu.Unlock()
	return <-p.done
}

// flush waits until every event emitted before it was appended (or given
// up), and returns the unreported failure of a background append.
func (e *emitter) flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle.L == nil {
		e.idle.L = &e.mu
	}
	for e.writing {
		e.idle.Wait()
	}
	err := e.err
	e.err = nil
	return err
}

// write appends the queue, a batch at a time, until it is empty.
// A caller writing its own event (own) hands the rest of the queue to a
// goroutine once that event is appended.
func (e *emitter) write(ctx context.Context, own *pendingEvent) {
	for {
		e.mu.Lock()
		if own != nil && len(own.done) > 0 && len(e.queue) > 0 {
			go e.write(ctx, nil)
			e.mu.Unlock()
			return
		}
		n := min(len(e.queue), maxBatch)
		for i, p := range e.queue[:n] {
			if p.ev.Final { // the log's end: nothing after it in the batch
				n = i + 1
				break
			}
		}
		if n == 0 {
			e.queue = nil
			e.writing = false
			e.idle.Broadcast()
			e.mu.Unlock()
			return
		}
		batch := e.queue[:n:n]
		e.queue = e.queue[n:]
		e.mu.Unlock()

		err := e.appendBatch(ctx, batch)
		waited := false
		for _, p := range batch {
			if p.done != nil {
				p.done <- err
				waited = true
			}
		}
		if err != nil && !waited {
			e.mu.Lock()
			if e.err == nil {
				e.err = err
			}
			e.mu.Unlock()
		}
	}
}

// appendBatch appends a batch, retried for appendPatience while the broker
// cannot be reached (Redis restarting), so that subscribers miss nothing.
func (e *emitter) appendBatch(ctx context.Context, batch []*pendingEvent) error {
	evs := make([]broker.Event, len(batch))
	for i, p := range batch {
		evs[i] = p.ev
	}
	if err := e.ensureReserved(ctx, len(evs)); err != nil {
		return err
	}
	deadline := time.Now().Add(appendPatience)
	backoff := 50 * time.Millisecond
	var err error
	for {
		// The Seqs appended before this append began: a log that still
		// holds them answers with a larger one.
		before := e.last.Load()
		var first int64
		first, err = e.log.AppendBatch(ctx, e.runID, evs)
		if err == nil {
			e.resetCheck(ctx, before, first)
			e.seen(first + int64(len(evs)) - 1)
		}
		if err == nil || errors.Is(err, broker.ErrLogFinished) || errors.Is(err, broker.ErrClosed) || time.Now().After(deadline) {
			break
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	if err != nil {
		what := evs[0].Type + " event"
		if len(evs) > 1 {
			what = fmt.Sprintf("%d events (%s to %s)", len(evs), evs[0].Type, evs[len(evs)-1].Type)
		}
		return fmt.Errorf("append %s to run %s: %w", what, e.runID, err)
	}
	return nil
}

// resetCheck notices a log that was lost under this emitter (a Redis server
// that restarted empty: the append got a Seq it had already used) and moves
// the log's counter past every Seq this attempt reserved, so that whatever
// comes next, from this attempt or the next, follows what clients saw.
// before is the last Seq known when the append began: only an answer at or
// below it means a lost log (concurrent appends answer above it).
func (e *emitter) resetCheck(ctx context.Context, before, seq int64) {
	if before == 0 || seq > before {
		return
	}
	floor := max(e.reserved, e.last.Load())
	if err := e.log.Advance(ctx, e.runID, floor); err != nil && !errors.Is(err, broker.ErrLogFinished) {
		return
	}
	e.seen(floor)
}

// seen records that the log holds seq.
func (e *emitter) seen(seq int64) {
	for {
		cur := e.last.Load()
		if seq <= cur || e.last.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// appendPatience is how long an event is retried while the broker cannot be
// reached.
const appendPatience = time.Minute
