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

// seqGap is how far past its last checkpoint a run's log goes on when the
// broker lost it: more than the events a run appends between two
// checkpoints (a heartbeat), so that no follower has seen a Seq beyond it.
const seqGap = 100_000

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

// continueLog makes the run's log go on past lastSeq, the last Seq its
// followers may have seen (the row's checkpoint), when the broker no longer
// holds it (its data was lost, or it is a new embedded process). It
// reports whether the log had been lost and the Seq the log is now at.
func (s *Service) continueLog(ctx context.Context, runID string, lastSeq int64) (lost bool, at int64) {
	last, err := s.cfg.Broker.Last(ctx, runID)
	if err != nil {
		s.runLog(ctx, runID).Warn().Err(err).Msg("read the run's last event")
		return false, 0
	}
	if last >= lastSeq {
		return false, last
	}
	at = lastSeq + seqGap
	if err := s.cfg.Broker.Advance(ctx, runID, at); err != nil {
		s.runLog(ctx, runID).Warn().Err(err).Msg("continue the run's lost event log")
		return true, last
	}
	s.runLog(ctx, runID).Warn().Int64("checkpoint", lastSeq).Int64("found", last).Int64("continues_after", at).
		Msg("the run's event log was lost; it goes on past its checkpoint")
	return true, at
}

// resume prepares an attempt's log: it goes on past what the run's
// followers saw, and when an earlier attempt left events (or lost them),
// a RUN_RESTARTED event says that what it showed is to be dropped.
func (s *Service) resume(ctx context.Context, rc *runContext, em *emitter, attempt int) {
	lost, at := s.continueLog(ctx, rc.run.ID, rc.run.LastSeq)
	em.seen(at)
	switch {
	case lost:
		rc.emit(EventRunRestarted, eventData{Text: fmt.Sprintf("the run's events were lost with the broker's data; attempt %d starts again", attempt)})
	case at > 0:
		rc.emit(EventRunRestarted, eventData{Text: fmt.Sprintf("the worker running the previous attempt stopped; attempt %d starts again", attempt)})
	}
}
