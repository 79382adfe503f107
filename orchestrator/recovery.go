package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
)

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
