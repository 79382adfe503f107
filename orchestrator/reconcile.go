package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
)

// maxRecoveries bounds how many times the reconciler queues a run again
// whose job the broker lost; the next loss fails it.
const maxRecoveries = 3

// Repairs counts what one Reconcile did.
type Repairs struct {
	// Requeued runs had lost their job (the broker lost its data) and are
	// queued again.
	Requeued int
	// FailedDead runs had their job dead-lettered (their workers died on
	// every attempt) and ended FAILED with the reason.
	FailedDead int
	// FailedLost runs lost their job more than maxRecoveries times and
	// ended FAILED.
	FailedLost int
}

// Total is the number of runs repaired.
func (r Repairs) Total() int { return r.Requeued + r.FailedDead + r.FailedLost }

// Reconcile makes the database's unfinished runs and the broker agree, so
// that every run ends: a QUEUED or RUNNING run whose job the broker holds is
// left alone (an expired lease is taken back by the broker); one whose job
// was dead-lettered ends FAILED with the reason, and a RUN_FAILED event;
// one whose job is gone (a Redis server that lost its data) is queued again,
// at most maxRecoveries times, then fails. Runs younger than grace are
// skipped: their job may not be enqueued yet. Every repair is logged and
// counted (autoanalyst_run_repairs_total). Concurrent Reconciles (one per
// worker process) are safe: each repair is a conditional update, and only
// the process whose update took acts on it.
func (s *Service) Reconcile(ctx context.Context, grace time.Duration) (Repairs, error) {
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	var rep Repairs
	runs, err := s.cfg.DB.Run.Query().
		Where(run.StatusIn(run.StatusQUEUED, run.StatusRUNNING), run.UpdatedAtLT(time.Now().Add(-grace))).
		Order(ent.Asc(run.FieldCreatedAt)).Limit(1000).All(sys)
	if err != nil {
		return rep, fmt.Errorf("list unfinished runs: %w", err)
	}
	for _, r := range runs {
		info, err := s.cfg.Broker.Lookup(ctx, r.ID)
		if err != nil {
			return rep, fmt.Errorf("look up run %s's job: %w", r.ID, err)
		}
		log := s.cfg.Logger.With().Str("run", r.ID).Str("user_id", r.UserID).Str("status", string(r.Status)).Logger()
		switch info.State {
		case broker.JobDead:
			msg := fmt.Sprintf("the run was given up after %d attempts: %s", info.Attempts, info.Reason)
			if s.failStuck(sys, r, msg) {
				rep.FailedDead++
				s.cfg.Metrics.RunRepaired("failed_dead")
				log.Warn().Int("attempts", info.Attempts).Str("reason", info.Reason).Msg("reconciler: dead-lettered run failed")
			}
		case broker.JobUnknown:
			if r.Recoveries >= maxRecoveries {
				if s.failStuck(sys, r, fmt.Sprintf("the run's job was lost %d times", r.Recoveries+1)) {
					rep.FailedLost++
					s.cfg.Metrics.RunRepaired("failed_lost")
					log.Warn().Int("recoveries", r.Recoveries).Msg("reconciler: run lost its job too often; failed")
				}
				continue
			}
			ok, err := s.requeue(sys, r)
			if err != nil {
				return rep, err
			}
			if ok {
				rep.Requeued++
				s.cfg.Metrics.RunRepaired("requeued")
				log.Warn().Int("recoveries", r.Recoveries+1).Msg("reconciler: the broker had lost the run's job; queued again")
			}
		}
	}
	if rep.Total() > 0 {
		s.cfg.Logger.Info().Int("requeued", rep.Requeued).Int("failed_dead", rep.FailedDead).
			Int("failed_lost", rep.FailedLost).Msg("reconciler repaired runs")
	}
	return rep, nil
}

// requeue queues r again if no other process did it first.
func (s *Service) requeue(ctx context.Context, r *ent.Run) (bool, error) {
	n, err := s.cfg.DB.Run.Update().
		Where(run.ID(r.ID), run.StatusEQ(r.Status), run.Recoveries(r.Recoveries)).
		SetStatus(run.StatusQUEUED).SetRecoveries(r.Recoveries + 1).Save(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	if err := s.enqueue(ctx, r); err != nil && !errors.Is(err, broker.ErrDuplicateJob) {
		return false, fmt.Errorf("requeue run %s: %w", r.ID, err)
	}
	return true, nil
}

// failStuck ends r FAILED with msg, unless it moved on meanwhile.
func (s *Service) failStuck(ctx context.Context, r *ent.Run, msg string) bool {
	cur, err := s.cfg.DB.Run.Get(ctx, r.ID)
	if err != nil || cur.Status != r.Status || !cur.UpdatedAt.Equal(r.UpdatedAt) {
		return false
	}
	return s.finish(ctx, r.ID, run.StatusFAILED, msg, EventRunFailed, eventData{Text: msg, ErrorCode: CodeInternal})
}

// reconcileLoop runs Reconcile every ReconcileInterval (with a jitter, so
// that workers do not sweep together) until ctx ends.
func (s *Service) reconcileLoop(ctx context.Context) {
	every := s.cfg.ReconcileInterval
	if every < 0 {
		return
	}
	grace := max(2*s.cfg.Lease, every)
	for {
		wait := every/2 + rand.N(every)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if _, err := s.Reconcile(ctx, grace); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn().Err(err).Msg("reconciler")
		}
	}
}
