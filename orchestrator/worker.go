package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/tracing"
)

// Causes of a run's context being cancelled.
var (
	errCancelRequested = errors.New("run cancelled by the user")
	errShutdown        = errors.New("worker shutting down")
	errLeaseLost       = errors.New("lease lost to another worker")
	// errNotStarted: the run could not be loaded or marked running (the
	// database did not answer): its job goes back to the queue.
	errNotStarted = errors.New("run not started")
	// errRunNotFound: the job names a run this database does not hold: it
	// was deleted with its chat, or the job is another deployment's (one
	// that shares the Redis server and key prefix).
	errRunNotFound = errors.New("run not found in this deployment's database (deleted with its chat, or the job belongs to another deployment sharing the Redis key prefix)")
)

// runError is a failure with a code for the RUN_FAILED event.
type runError struct {
	code string
	msg  string
	err  error
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.err }

// Workers claims and executes runs with n goroutines until Stop is called.
// Safe for concurrent use.
type Workers struct {
	s        *Service
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	inflight sync.WaitGroup
}

// StartWorkers starts n workers in this process, and its reconciler
// (Reconcile every ReconcileInterval).
func (s *Service) StartWorkers(n int) *Workers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Workers{s: s, cancel: cancel}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.loop(ctx)
		}()
	}
	// Each process with workers reconciles the database with the broker.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		s.reconcileLoop(ctx)
	}()
	return w
}

// Drain refuses new runs from this process's API (SendMessage, ExecuteCode).
func (s *Service) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Stop stops claiming, lets the runs in flight finish until ctx is done, then
// hands the rest back to the queue, and waits for the usage rows of their
// LLM calls to be stored.
func (w *Workers) Stop(ctx context.Context) {
	// The usage rows of the runs' LLM calls are stored before it returns.
	defer w.s.usage.waitAll()
	w.cancel()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	w.s.mu.Lock()
	for _, stop := range w.s.local {
		stop(errShutdown)
	}
	w.s.mu.Unlock()
	<-done
}

func (w *Workers) loop(ctx context.Context) {
	log := w.s.cfg.Logger
	for {
		l, err := w.s.cfg.Broker.Claim(ctx, w.s.cfg.Lease)
		if ctx.Err() != nil || errors.Is(err, broker.ErrClosed) {
			if l != nil {
				w.s.cfg.Broker.Release(context.Background(), l)
			}
			return
		}
		if err != nil {
			log.Error().Err(err).Msg("claim job")
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		w.s.handle(l)
	}
}

// handle executes one claimed job to its end.
func (s *Service) handle(l *broker.Lease) {
	var p jobPayload
	perr := json.Unmarshal(l.Job.Payload, &p)
	lc := s.cfg.Logger.With().Str("run", l.Job.ID).Int("attempt", l.Attempt)
	if p.UserID != "" {
		lc = lc.Str("user_id", p.UserID)
	}
	if p.RequestID != "" {
		lc = lc.Str("request_id", p.RequestID)
	}
	// The run's span continues the trace of the request that enqueued it.
	tctx, span := s.tracer.Start(tracing.Extract(context.Background(), l.Job.TraceContext), "run",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("run.id", l.Job.ID), attribute.String("run.kind", l.Job.Kind), attribute.Int("run.attempt", l.Attempt)))
	defer span.End()
	lc = tracing.LogContext(lc, span.SpanContext())
	log := lc.Logger()
	log.Debug().Msg("run claimed")
	if perr != nil || p.RunID == "" {
		log.Error().Err(perr).Msg("malformed job; dead-lettering it")
		s.cfg.Broker.Fail(context.Background(), l, fmt.Errorf("malformed job payload"), false)
		return
	}
	// The run's steps log through this logger (runLog, and zerolog.Ctx for
	// the executor and the libraries): every line names the run, its user
	// and the request that started it.
	ctx, stop := context.WithCancelCause(context.WithValue(log.WithContext(tctx), runLogKey{}, &log))
	defer stop(nil)
	s.mu.Lock()
	s.local[p.RunID] = stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.local, p.RunID)
		s.mu.Unlock()
	}()

	em := &emitter{log: s.cfg.Broker, runID: p.RunID}
	hbDone := make(chan struct{})
	go s.heartbeat(ctx, l, stop, hbDone, em)
	err := s.execute(ctx, p.RunID, l.Attempt, p.UserID == "", em)
	if err != nil {
		span.SetStatus(codes.Error, "run failed")
	}
	stop(nil)
	<-hbDone

	cause := context.Cause(ctx)
	bg := context.Background()
	switch {
	case errors.Is(cause, errLeaseLost):
		log.Warn().Msg("lease lost; another worker owns the run now")
	case errors.Is(cause, errShutdown):
		sys := privacy.DecisionContext(bg, privacy.Allow)
		// The exact last Seq goes with the run, so that the next attempt's
		// events follow it even if this process's log is gone (embedded).
		s.cfg.DB.Run.Update().Where(run.ID(p.RunID), run.StatusEQ(run.StatusRUNNING)).SetStatus(run.StatusQUEUED).Exec(sys)
		s.checkpoint(bg, em)
		if err := s.cfg.Broker.Release(bg, l); err != nil {
			log.Error().Err(err).Msg("hand back job")
		}
		log.Info().Msg("run handed back to the queue")
	case errors.Is(err, errRunNotFound):
		// Not acknowledged: another deployment's job goes back (and, after
		// its attempts, to the dead list with this reason).
		log.Warn().Msg("the job's run is not in this database; giving the job back")
		if _, err := s.cfg.Broker.Fail(bg, l, err, true); err != nil && !errors.Is(err, broker.ErrLeaseLost) {
			log.Error().Err(err).Msg("give back job")
		}
	case errors.Is(err, errNotStarted):
		// The database did not answer: the job comes back later rather
		// than being acknowledged for a run that never ran.
		log.Warn().Err(err).Msg("run not started; giving the job back")
		if _, err := s.cfg.Broker.Fail(bg, l, err, true); err != nil && !errors.Is(err, broker.ErrLeaseLost) {
			log.Error().Err(err).Msg("give back job")
		}
	default:
		if err != nil {
			logRunEnd(&log, cause, err)
		}
		if err := s.cfg.Broker.Ack(bg, l); err != nil && !errors.Is(err, broker.ErrLeaseLost) {
			log.Error().Err(err).Msg("ack job")
		}
	}
}

// heartbeat extends the lease until ctx ends, and checkpoints the run's last
// Seq (em) in its row after each extension.
func (s *Service) heartbeat(ctx context.Context, l *broker.Lease, stop context.CancelCauseFunc, done chan<- struct{}, em *emitter) {
	defer close(done)
	every := s.cfg.Lease / 3
	if every > 2*time.Second {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := s.cfg.Broker.Extend(context.Background(), l, s.cfg.Lease)
			switch {
			case errors.Is(err, broker.ErrCanceled):
				stop(errCancelRequested)
				return
			case errors.Is(err, broker.ErrLeaseLost):
				stop(errLeaseLost)
				return
			case err != nil:
				s.runLog(ctx, l.Job.ID).Warn().Err(err).Msg("extend lease")
			default:
				s.checkpoint(ctx, em)
			}
		}
	}
}

// runContext is what the steps of one run share.
type runContext struct {
	started time.Time // on this worker
	run     *ent.Run
	in      runInput
	emit    func(t EventType, d eventData) error
	// user is the context of the run's owner: privacy applies to every query.
	user context.Context
	// attempt counts the deliveries of the run's job: more than 1 is a
	// redelivered run.
	attempt int
	// storedFiles says that this attempt stored output files (storeFiles).
	storedFiles atomic.Bool
}

// execute runs a run's steps and records how it ended. The returned error is
// for logging only. addUser names the run's user on its log lines (ctx's
// logger does not yet).
func (s *Service) execute(ctx context.Context, runID string, attempt int, addUser bool, em *emitter) error {
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	var r *ent.Run
	err := s.persist(sys, func(ctx context.Context) (err error) {
		r, err = s.cfg.DB.Run.Get(ctx, runID)
		return err
	})
	if ent.IsNotFound(err) {
		return errRunNotFound // deleted with its chat, or another deployment's job
	}
	if err != nil {
		return fmt.Errorf("%w: load run %s: %w", errNotStarted, runID, err)
	}
	if terminal(r.Status) {
		return nil // already ended (a redelivered job)
	}
	var n int
	err = s.persist(sys, func(ctx context.Context) (err error) {
		n, err = s.cfg.DB.Run.Update().
			Where(run.ID(runID), run.StatusIn(run.StatusQUEUED, run.StatusRUNNING)).
			SetStatus(run.StatusRUNNING).SetStartedAt(time.Now()).SetAttempts(attempt).
			Save(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: mark run %s running: %w", errNotStarted, runID, err)
	}
	if n == 0 {
		return nil
	}
	if addUser {
		// A job enqueued before jobs named their user.
		l := s.runLog(ctx, runID).With().Str("user_id", r.UserID).Logger()
		ctx = context.WithValue(ctx, runLogKey{}, &l)
	}
	started := time.Now()
	s.cfg.Metrics.RunStarted(string(r.Kind), started.Sub(r.CreatedAt))
	rc := &runContext{
		started: started,
		attempt: attempt,
		run:     r,
		emit:    func(t EventType, d eventData) error { return em.emit(ctx, t, d) },
		user:    viewer.NewContext(ctx, &viewer.Viewer{UserID: r.UserID}),
	}
	if len(r.Input) > 0 {
		if err := json.Unmarshal(r.Input, &rc.in); err != nil {
			err = &runError{code: CodeInternal, msg: "the run's input is unreadable", err: err}
			s.end(ctx, rc, nil, err) // before resume: the log is checked at the end
			return err
		}
	}
	s.resume(ctx, rc, em, attempt)
	rc.emit(EventRunStarted, eventData{Text: string(r.Kind)})
	s.checkpoint(ctx, em)
	switch r.Kind {
	case run.KindEXECUTE_CODE:
		err = s.executeCode(rc)
	case run.KindCHAT:
		err = s.chatTurn(rc)
	case run.KindFIX_CODE:
		err = s.fixCodeRun(rc)
	case run.KindEDIT_CODE:
		err = s.editCodeRun(rc)
	case run.KindDEEP_ANALYSIS:
		err = s.deepAnalysis(rc)
	case run.KindDESCRIBE_DATASETS:
		err = s.describeDatasetsRun(rc)
	default:
		err = &runError{code: CodeInternal, msg: fmt.Sprintf("unknown run kind %s", r.Kind)}
	}
	// The events still on their way go before the terminal event
	// (which end appends on its own).
	if ferr := em.flush(); ferr != nil {
		s.runLog(ctx, runID).Warn().Err(ferr).Msg("some of the run's events could not be appended")
	}
	// A client that saw the run end finds its usage.
	s.usage.wait(runID)
	s.end(ctx, rc, em, err)
	return err
}

// end records the outcome of a run, unless the worker is handing it back,
// and appends its terminal event through em, the attempt's emitter once
// resumed (nil before: see finishWith).
func (s *Service) end(ctx context.Context, rc *runContext, em *emitter, err error) {
	cause := context.Cause(ctx)
	if errors.Is(cause, errShutdown) || errors.Is(cause, errLeaseLost) {
		return
	}
	// Counted before the terminal event, so that a client that saw it
	// finds the run counted.
	ended := func(st run.Status) { s.cfg.Metrics.RunEnded(string(rc.run.Kind), string(st), time.Since(rc.started)) }
	if errors.Is(cause, errCancelRequested) {
		ended(run.StatusCANCELLED)
		s.finishWith(ctx, em, rc.run.ID, run.StatusCANCELLED, "cancelled", EventRunCancelled, eventData{Text: "cancelled"})
		return
	}
	if err == nil {
		ended(run.StatusSUCCEEDED)
		s.finishWith(ctx, em, rc.run.ID, run.StatusSUCCEEDED, "", EventRunSucceeded, eventData{})
		return
	}
	code, msg := CodeInternal, "internal error"
	var re *runError
	switch {
	case errors.As(err, &re):
		code, msg = re.code, re.msg
	case errors.Is(err, llm.ErrNotConfigured):
		// The message names the variables to set, never their values.
		code, msg = CodeModelNotConfigured, err.Error()
	case errors.Is(err, executor.ErrSandboxUnavailable):
		code, msg = CodeSandboxUnavailable, "the code sandbox is unavailable: install bubblewrap, or set EXECUTOR_SANDBOX=off for development"
	}
	ended(run.StatusFAILED)
	s.finishWith(ctx, em, rc.run.ID, run.StatusFAILED, msg, EventRunFailed, eventData{Text: msg, ErrorCode: code})
}

type runLogKey struct{}

// runLog is the logger of the run that ctx belongs to (set by the worker:
// it names the run, its user and the request that started it), else the
// service's logger naming runID.
func (s *Service) runLog(ctx context.Context, runID string) *zerolog.Logger {
	if l, ok := ctx.Value(runLogKey{}).(*zerolog.Logger); ok {
		return l
	}
	l := s.cfg.Logger.With().Str("run", runID).Logger()
	return &l
}

// logRunEnd logs why a run did not succeed. What the user caused is not a
// failure of the service: their own code failing (EXECUTION_ERROR), their
// input refused, their cancel are logged at info or debug level; the rest
// at error level.
func logRunEnd(log *zerolog.Logger, cause, err error) {
	var re *runError
	switch {
	case errors.Is(cause, errCancelRequested):
		log.Info().Msg("run cancelled")
	case errors.As(err, &re) && (re.code == CodeExecutionError || re.code == CodeBadInput):
		log.Info().Str("code", re.code).Str("reason", re.msg).Msg("run ended: the user's code or input failed")
	case errors.As(err, &re) && (re.code == CodeModelError || re.code == CodeModelNotConfigured):
		log.Warn().Err(err).Str("code", re.code).Msg("run failed")
	case errors.Is(err, llm.ErrNotConfigured):
		log.Warn().Err(err).Msg("run failed")
	default:
		log.Error().Err(err).Msg("run failed")
	}
}

// persist runs write, retrying it with a backoff for up to DBPatience while
// it fails and ctx lasts, unless the error says the row is not there. What
// it protects must not be lost to a database that is briefly unavailable: a
// run's start and end, and the usage rows of calls already billed.
func (s *Service) persist(ctx context.Context, write func(context.Context) error) error {
	deadline := time.Now().Add(s.cfg.DBPatience)
	backoff := 100 * time.Millisecond
	for {
		err := write(ctx)
		if err == nil || ent.IsNotFound(err) || ent.IsConstraintError(err) || ent.IsValidationError(err) ||
			errors.Is(err, privacy.Deny) || time.Now().Add(backoff).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// checkpoint stores the run's last Seq in its row, when it moved on; a
// failure only costs a larger gap if the log is lost.
func (s *Service) checkpoint(ctx context.Context, em *emitter) {
	last := em.last.Load()
	if last == 0 {
		return
	}
	sys := privacy.DecisionContext(context.WithoutCancel(ctx), privacy.Allow)
	err := s.cfg.DB.Run.Update().Where(run.ID(em.runID), run.LastSeqLT(last)).SetLastSeq(last).Exec(sys)
	if err != nil {
		s.runLog(ctx, em.runID).Debug().Err(err).Msg("checkpoint the run's last event")
	}
}

// continueLog makes r's log go on past every Seq its followers may have
// seen when the broker no longer holds it (its data was lost, or this is a
// new embedded process): the log is lost when it holds less than the last
// checkpoint, or nothing though Seqs were reserved; it then goes on after
// the reservation (r.SeqReserved, which no append passed). It reports
// whether the log had been lost, and the Seq the log is at.
func (s *Service) continueLog(ctx context.Context, r *ent.Run) (lost bool, at int64) {
	last, err := s.cfg.Broker.Last(ctx, r.ID)
	if err != nil {
		s.runLog(ctx, r.ID).Warn().Err(err).Msg("read the run's last event")
		return false, 0
	}
	if last >= r.LastSeq && (last > 0 || r.SeqReserved == 0) {
		return false, last
	}
	at = max(r.SeqReserved, r.LastSeq, last)
	if err := s.cfg.Broker.Advance(ctx, r.ID, at); err != nil {
		s.runLog(ctx, r.ID).Warn().Err(err).Msg("continue the run's lost event log")
		return true, last
	}
	s.runLog(ctx, r.ID).Warn().Int64("checkpoint", r.LastSeq).Int64("reserved", r.SeqReserved).Int64("found", last).
		Int64("continues_after", at).Msg("the run's event log was lost; it goes on past its reservation")
	return true, at
}

// reserveFunc returns the emitter's reserve for run r: it raises the run's
// seq_reserved, retried while the database does not answer.
func (s *Service) reserveFunc(r *ent.Run) func(ctx context.Context, upTo int64) error {
	return func(ctx context.Context, upTo int64) error {
		sys := privacy.DecisionContext(ctx, privacy.Allow)
		return s.persist(sys, func(ctx context.Context) error {
			return s.cfg.DB.Run.Update().Where(run.ID(r.ID), run.SeqReservedLT(upTo)).SetSeqReserved(upTo).Exec(ctx)
		})
	}
}

// resume prepares an attempt's log: it goes on past what the run's
// followers saw, and when an earlier attempt left events (or lost them),
// a RUN_RESTARTED event says that what it showed is to be dropped.
func (s *Service) resume(ctx context.Context, rc *runContext, em *emitter, attempt int) {
	lost, at := s.continueLog(ctx, rc.run)
	em.seen(at)
	em.reserved = rc.run.SeqReserved
	em.reserve = s.reserveFunc(rc.run)
	switch {
	case lost:
		rc.emit(EventRunRestarted, eventData{Text: fmt.Sprintf("the run's events were lost with the broker's data; attempt %d starts again", attempt)})
	case at > 0:
		rc.emit(EventRunRestarted, eventData{Text: fmt.Sprintf("the worker running the previous attempt stopped; attempt %d starts again", attempt)})
	}
}
