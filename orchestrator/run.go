package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/requestid"
	"github.com/autoanalyst/autoanalyst/tracing"
)

// jobPayload is what a run's job carries.
type jobPayload struct {
	RunID string `json:"runId"`
	// UserID and RequestID name the run's owner and the request that
	// started it on the worker's log lines.
	UserID    string `json:"userId,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// runInput is a run's stored arguments.
type runInput struct {
	Content string `json:"content,omitempty"`
	Code    string `json:"code,omitempty"`
	// Error is what the code failed with (FIX_CODE); Instruction what to
	// change (EDIT_CODE).
	Error       string `json:"error,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	// DatasetIDs are the datasets to describe (DESCRIBE_DATASETS).
	DatasetIDs []string `json:"datasetIds,omitempty"`
	// MessageID is the assistant message whose code runs (EXECUTE_CODE).
	MessageID string `json:"messageId,omitempty"`
}

// maxInputBytes bounds a question or a program.
const maxInputBytes = 256 << 10

func (s *Service) start(ctx context.Context, kind run.Kind, chatID string, in runInput, userMessage string) (*ent.Run, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		return nil, errcode.New(errcode.Unavailable, "the server is shutting down; retry on another node")
	}
	// Privacy: another user's chat is not found. A run without a chat
	// (DESCRIBE_DATASETS) has checked what it reads itself.
	if chatID == "" && userMessage != "" {
		return nil, errcode.Field("chatID", "a message needs a chat")
	}
	if chatID != "" {
		if _, err := s.cfg.DB.Chat.Query().Where(chat.ID(chatID), chat.UserID(v.UserID)).OnlyID(ctx); err != nil {
			if ent.IsNotFound(err) {
				return nil, &errcode.Error{Code: errcode.NotFound, Field: "chatID", Message: "chat not found"}
			}
			return nil, fmt.Errorf("load chat %s: %w", chatID, err)
		}
	}
	if kind == run.KindCHAT {
		if err := s.checkMentions(ctx, v, userMessage); err != nil {
			return nil, err
		}
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	tx, err := s.cfg.DB.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	// Charged before the run exists, so a refused run makes no model call;
	// in the same transaction, so a run not created is not charged.
	credits := 0
	if s.cfg.Credits != nil {
		if credits, err = s.cfg.Credits.Charge(ctx, tx, v.UserID, kind); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	create := tx.Run.Create().SetUserID(v.UserID).SetNillableChatID(nonEmpty(chatID)).SetKind(kind).SetInput(input).
		SetCredits(credits)
	r, err := create.Save(ctx)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("create run: %w", err)
	}
	if userMessage != "" {
		if err := nameOnFirstMessage(ctx, tx, chatID, userMessage); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("name chat %s: %w", chatID, err)
		}
		m, err := tx.Message.Create().SetUserID(v.UserID).SetChatID(chatID).
			SetSender(message.SenderUSER).SetContent(userMessage).SetRunID(r.ID).Save(ctx)
		if err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("store message: %w", err)
		}
		// Update, not UpdateOne: the row is not read back (a round trip
		// each); r is brought up to date instead.
		now := time.Now()
		if err := tx.Run.Update().Where(run.ID(r.ID)).SetMessageID(m.ID).SetUpdatedAt(now).Exec(ctx); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("link message: %w", err)
		}
		r.MessageID, r.UpdatedAt = &m.ID, now
		if err := tx.Chat.Update().Where(chat.ID(chatID)).SetUpdatedAt(now).Exec(ctx); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("touch chat: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit run: %w", err)
	}
	r = r.Unwrap()
	if err := s.enqueue(ctx, r); err != nil {
		// The run could not be queued: end it now rather than leave it QUEUED forever.
		s.finish(context.WithoutCancel(ctx), r.ID, run.StatusFAILED, "could not queue the run", EventRunFailed,
			eventData{Text: "could not queue the run", ErrorCode: CodeInternal})
		if s.cfg.Credits != nil {
			if rerr := s.cfg.Credits.Refund(context.WithoutCancel(ctx), r.UserID, r.Credits); rerr != nil {
				s.runLog(ctx, r.ID).Error().Err(rerr).Msg("refund the credits of a run not queued")
			}
		}
		return nil, fmt.Errorf("enqueue run %s: %w", r.ID, err)
	}
	return r, nil
}

func (s *Service) enqueue(ctx context.Context, r *ent.Run) error {
	ctx, span := s.tracer.Start(ctx, "run.enqueue", trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("run.id", r.ID), attribute.String("run.kind", string(r.Kind))))
	defer span.End()
	payload, _ := json.Marshal(jobPayload{RunID: r.ID, UserID: r.UserID, RequestID: requestid.FromContext(ctx)})
	// The chat's ID is also its kernel's key (executor.Request.Key): a
	// chat's runs go to the worker process that holds its kernel.
	var affinity string
	if r.ChatID != nil {
		affinity = *r.ChatID
	}
	err := s.cfg.Broker.Enqueue(ctx, broker.Job{ID: r.ID, Kind: string(r.Kind), Payload: payload,
		TraceContext: tracing.Inject(ctx), Affinity: affinity})
	if err != nil {
		span.SetStatus(codes.Error, "enqueue failed")
	}
	return err
}

// Cancel stops a queued or running run of the viewer. A run that has already
// ended is returned as it is.
func (s *Service) Cancel(ctx context.Context, runID string) (*ent.Run, error) {
	r, err := s.cfg.DB.Run.Get(ctx, runID)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "run not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", runID, err)
	}
	if terminal(r.Status) {
		return r, nil
	}
	state, err := s.cfg.Broker.Cancel(ctx, runID)
	switch {
	case err == nil && state == broker.JobQueued, errors.Is(err, broker.ErrJobNotFound) && r.Status == run.StatusQUEUED:
		// Never started (or its job was lost): end it here.
		s.finish(ctx, runID, run.StatusCANCELLED, "cancelled", EventRunCancelled, eventData{Text: "cancelled before it started"})
	case err == nil && state == broker.JobRunning:
		// A worker holds it. If that worker is in this process, stop it now;
		// otherwise it learns on its next heartbeat.
		s.mu.Lock()
		stop := s.local[runID]
		s.mu.Unlock()
		if stop != nil {
			stop(errCancelRequested)
		}
		s.waitEnd(ctx, runID, 3*time.Second)
	case errors.Is(err, broker.ErrJobNotFound):
		// Finished meanwhile.
	case err != nil:
		return nil, fmt.Errorf("cancel run %s: %w", runID, err)
	}
	return s.cfg.DB.Run.Get(ctx, runID)
}

// StopChatRuns cancels the queued and running runs of chats about to be
// deleted: a queued run leaves the queue, and the worker that holds a running
// one stops at its next heartbeat and finds the run gone.
func (s *Service) StopChatRuns(ctx context.Context, chatIDs []string) error {
	live, err := s.cfg.DB.Run.Query().
		Where(run.ChatIDIn(chatIDs...), run.StatusIn(run.StatusQUEUED, run.StatusRUNNING)).IDs(ctx)
	if err != nil {
		return fmt.Errorf("list the chats' runs: %w", err)
	}
	for _, id := range live {
		if _, err := s.cfg.Broker.Cancel(ctx, id); err != nil && !errors.Is(err, broker.ErrJobNotFound) {
			return fmt.Errorf("cancel run %s: %w", id, err)
		}
	}
	return nil
}

// waitEnd waits up to d for a run to reach a terminal status.
func (s *Service) waitEnd(ctx context.Context, runID string, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r, err := s.cfg.DB.Run.Get(ctx, runID)
		if err != nil || terminal(r.Status) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func terminal(st run.Status) bool {
	return st == run.StatusSUCCEEDED || st == run.StatusFAILED || st == run.StatusCANCELLED
}

// finish ends a run: the terminal event, the status, and the event log copied
// into the run's row.
//
// It reports whether this call ended the run (false: it had ended already,
// or the status could not be stored).
func (s *Service) finish(ctx context.Context, runID string, st run.Status, errText string, t EventType, d eventData) bool {
	return s.finishWith(ctx, nil, runID, st, errText, t, d)
}

// finishWith is finish with the terminal event appended through em, the
// emitter of the worker's attempt, when there is one: it noticed a lost log
// at its own appends (resetCheck), so the log needs no check here.
func (s *Service) finishWith(ctx context.Context, em *emitter, runID string, st run.Status, errText string, t EventType, d eventData) bool {
	sys := privacy.DecisionContext(context.WithoutCancel(ctx), privacy.Allow)
	// The status first: a client that sees the terminal event and then reads
	// the run must find it ended.
	upd := s.cfg.DB.Run.Update().
		Where(run.ID(runID), run.StatusIn(run.StatusQUEUED, run.StatusRUNNING)).
		SetStatus(st).SetFinishedAt(time.Now())
	if errText != "" && st != run.StatusSUCCEEDED {
		upd.SetError(errText)
	}
	// Retried while the database does not answer: the terminal event is
	// only appended once the status says the same.
	var n int
	if err := s.persist(sys, func(ctx context.Context) (err error) { n, err = upd.Save(ctx); return err }); err != nil {
		s.runLog(ctx, runID).Error().Err(err).Msg("store run end; the run is left to the reconciler")
		return false
	}
	if n == 0 {
		if _, err := s.cfg.DB.Run.Get(sys, runID); err == nil {
			return false // ended already (by another process): its terminal event is there
		}
	}
	if st != run.StatusSUCCEEDED {
		s.failReport(sys, runID, st, errText) // a deep analysis's report ends FAILED too
	}
	// A log the broker lost goes on past what followers saw (the worker's
	// attempt did this already; the reconciler and Cancel have not).
	if em == nil {
		if r, err := s.cfg.DB.Run.Get(sys, runID); err == nil {
			s.continueLog(sys, r)
		}
		em = &emitter{log: s.cfg.Broker, runID: runID}
	}
	if err := em.emit(sys, t, d); err != nil {
		s.runLog(ctx, runID).Error().Err(err).Msg("append terminal event")
	}
	// Keep the whole log with the run, for when the broker's copy expires.
	if evs, err := s.cfg.Broker.Read(sys, runID, 0, 0); err == nil {
		if b, err := json.Marshal(evs); err == nil {
			if err := s.cfg.DB.Run.Update().Where(run.ID(runID)).SetEvents(b).Exec(sys); err != nil {
				s.runLog(ctx, runID).Error().Err(err).Msg("store run events")
			}
		}
	}
	return true
}

// Recover puts back in the queue the runs that a previous process left QUEUED
// or RUNNING. Call it at start-up when this process owns the only queue (the
// memory broker); with a shared broker, leases recover abandoned jobs instead.
func (s *Service) Recover(ctx context.Context) (int, error) {
	sys := privacy.DecisionContext(ctx, privacy.Allow)
	runs, err := s.cfg.DB.Run.Query().Where(run.StatusIn(run.StatusQUEUED, run.StatusRUNNING)).All(sys)
	if err != nil {
		return 0, fmt.Errorf("list unfinished runs: %w", err)
	}
	n := 0
	for _, r := range runs {
		// A broker shared with other processes (Redis) still knows the jobs
		// their workers hold or will claim: those are left alone.
		err := s.enqueue(sys, r)
		if errors.Is(err, broker.ErrDuplicateJob) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("requeue run %s: %w", r.ID, err)
		}
		if r.Status == run.StatusRUNNING {
			// Unless a worker has claimed it again meanwhile (and set a new
			// start time), the run waits in the queue.
			q := s.cfg.DB.Run.Update().Where(run.ID(r.ID), run.StatusEQ(run.StatusRUNNING))
			if r.StartedAt != nil {
				q = q.Where(run.StartedAt(*r.StartedAt))
			}
			if err := q.SetStatus(run.StatusQUEUED).Exec(sys); err != nil {
				return n, fmt.Errorf("requeue run %s: %w", r.ID, err)
			}
		}
		n++
	}
	return n, nil
}
