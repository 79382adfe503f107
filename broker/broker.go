package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors returned by every Broker implementation. Callers compare with errors.Is.
var (
	// ErrClosed is returned by every method except Close once Close has been
	// called, and by Subscription.Err when a follower was closed by Close.
	ErrClosed = errors.New("broker: closed")
	// ErrLeaseLost is returned by Extend, Ack, Fail and Release when the lease is
	// no longer held: it expired and the job was (or may have been) handed to
	// another worker, or the job was already acked, failed or released.
	ErrLeaseLost = errors.New("broker: lease lost")
	// ErrCanceled is returned by Extend when cancellation of the job was requested;
	// the worker must stop the job and then Ack it.
	ErrCanceled = errors.New("broker: job canceled")
	// ErrJobNotFound is returned by Cancel for an unknown or already finished job.
	ErrJobNotFound = errors.New("broker: job not found")
	// ErrDuplicateJob is returned by Enqueue when a job with the same ID is known.
	ErrDuplicateJob = errors.New("broker: duplicate job")
	// ErrLogFinished is returned by Append and AppendBatch when the run's log
	// already holds a Final event (or a batch holds one before its end).
	ErrLogFinished = errors.New("broker: event log finished")
)

// Job is a unit of work. ID is chosen by the caller (a run's ID) and is unique
// among the jobs a broker knows: queued, leased or waiting for a retry. Whether
// the ID of a finished (acked or dead-lettered) job may be enqueued again is
// implementation-defined.
type Job struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// MaxAttempts bounds deliveries (first run plus retries); 0 means DefaultMaxAttempts.
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// TraceContext carries the trace of whoever enqueued the job (W3C
	// tracecontext: traceparent, tracestate) to whoever claims it; nil
	// when there is none. It is stored and delivered as given.
	TraceContext map[string]string `json:"traceContext,omitempty"`
	// Affinity is an optional key that groups jobs which do better on the
	// same process (the chat whose kernel a run uses); empty means none.
	// An implementation with several processes should deliver jobs with the
	// same key to the process that claimed the last of them, while that
	// process lives. It is a hint, never a guarantee: delivery semantics
	// (at-least-once, leases, retries, cancellation, dead letters, Lookup)
	// are unchanged, any process may take a job whose process is gone or
	// slow to claim it, and jobs that are sent to a process are claimed
	// there in FIFO order but not in order with the jobs of the shared
	// queue. It is stored and delivered as given.
	Affinity string `json:"affinity,omitempty"`
}

// DefaultMaxAttempts is used when Job.MaxAttempts is zero.
const DefaultMaxAttempts = 3

// Lease is a claimed job. It is valid until ExpiresAt unless extended. A Lease
// is handed to the Queue methods by pointer; Extend updates ExpiresAt in place,
// so a Lease must not be read while Extend runs on it in another goroutine.
type Lease struct {
	Job Job
	// Attempt is 1 for the first delivery, 2 for the first retry, and so on.
	Attempt int
	// Token identifies this delivery; a stale token is refused with ErrLeaseLost.
	Token     string
	ExpiresAt time.Time
}

// JobState is what Cancel found.
type JobState string

// Job states reported by Cancel.
const (
	// JobQueued: the job was waiting and has been removed; it will never run.
	JobQueued JobState = "queued"
	// JobRunning: a worker holds the job; it is told through Extend (ErrCanceled).
	JobRunning JobState = "running"
	// JobDead (Lookup only): the job was dead-lettered: it used up its
	// attempts, or was failed for good.
	JobDead JobState = "dead"
	// JobUnknown (Lookup only): the queue holds no such job: it was acked or
	// cancelled, never enqueued, its dead letter was dropped, or the queue
	// lost it (a Redis server that lost its data).
	JobUnknown JobState = "unknown"
)

// JobInfo is what Lookup found about a job.
type JobInfo struct {
	// State is JobQueued (waiting, or waiting for a retry), JobRunning
	// (leased, even if the lease expired and no Claim took it back yet),
	// JobDead or JobUnknown.
	State JobState
	// Attempts is the number of deliveries so far.
	Attempts int
	// Reason says why a dead job was given up.
	Reason string
}

// Queue is the job half of a Broker: at-least-once delivery with leases.
//
// Jobs are delivered in FIFO order (jobs with an Affinity key may be taken
// out of that order by the process they are sent to). A delivery is a Lease that lasts ttl unless
// extended. When a lease expires, the job becomes claimable again with Attempt
// increased by one, or is dead-lettered when it has used up MaxAttempts; the
// expired lease is refused from then on with ErrLeaseLost. A job may therefore
// run more than once, and the work it does must be idempotent.
//
// A cancellation request on a leased job stays with the job until it is acked
// or dead-lettered: if the lease is lost (or the job released or retried), the
// next holder is told through Extend too.
type Queue interface {
	// Enqueue adds a job. It fails with ErrDuplicateJob if the ID is known.
	Enqueue(ctx context.Context, job Job) error
	// Claim blocks until a job is available (or ctx is done, then it returns
	// ctx.Err()) and leases it for ttl. ttl must be positive.
	Claim(ctx context.Context, ttl time.Duration) (*Lease, error)
	// Extend renews the lease for ttl and updates l.ExpiresAt. It returns
	// ErrLeaseLost when the lease is no longer held (expired, acked, failed,
	// released), and ErrCanceled when cancellation was requested; with ErrCanceled
	// the lease is still renewed, so that the worker can stop and Ack.
	Extend(ctx context.Context, l *Lease, ttl time.Duration) error
	// Ack marks the job done (succeeded, failed for good, or canceled). It returns
	// ErrLeaseLost when the lease is no longer held.
	Ack(ctx context.Context, l *Lease) error
	// Fail gives the job back. When retry is true and attempts remain, it becomes
	// claimable again after a backoff; otherwise it is dead-lettered. It reports
	// whether the job will be retried. It returns ErrLeaseLost when the lease is
	// no longer held.
	Fail(ctx context.Context, l *Lease, reason error, retry bool) (willRetry bool, err error)
	// Release gives the job back at once, without counting an attempt (graceful
	// shutdown): the next delivery has the same Attempt. It returns ErrLeaseLost
	// when the lease is no longer held.
	Release(ctx context.Context, l *Lease) error
	// Cancel removes a queued job (JobQueued; a job waiting for a retry counts as
	// queued) or asks the worker holding it to stop (JobRunning). It returns
	// ErrJobNotFound for an unknown or finished job.
	Cancel(ctx context.Context, jobID string) (JobState, error)
	// Stats counts the jobs the queue holds, for monitoring.
	Stats(ctx context.Context) (QueueStats, error)
	// Lookup reports what the queue knows of a job, for reconciling the
	// queue with a record of the jobs it should hold (the database's runs).
	Lookup(ctx context.Context, jobID string) (JobInfo, error)
}

// QueueStats counts a Queue's jobs at one moment.
type QueueStats struct {
	// Ready jobs can be claimed now.
	Ready int64 `json:"ready"`
	// Leased jobs are held by a worker (or their lease expired and no Claim
	// has taken them back yet).
	Leased int64 `json:"leased"`
	// Retrying jobs wait for the backoff of a retry.
	Retrying int64 `json:"retrying"`
	// Dead jobs used up their attempts; implementations keep a bounded number.
	Dead int64 `json:"dead"`
}

// DeadJob is a dead-lettered job, as an implementation's Dead reports it. It
// is a copy, safe to use from any goroutine.
type DeadJob struct {
	Job Job
	// Attempts is the number of deliveries the job had.
	Attempts int
	// Reason says why the job was given up: the Fail reason or a lease expiry.
	Reason string
	// At is when the job was dead-lettered, by the broker's clock (the
	// process's, or the Redis server's).
	At time.Time
}

// Event is one entry of a run's event log. Seq is assigned by Append: 1, 2, 3...
type Event struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data,omitempty"`
	// Final marks the last event of a log: followers stop after it.
	Final bool `json:"final,omitempty"`
}

// EventLog is the event half of a Broker: one ordered log per run.
//
// A log is created by its first Append and numbered 1, 2, 3... without gaps
// (except over the Seqs an Advance skips).
// It ends with a Final event; some time after that (the implementation's
// retention) it is removed, and the run then reads as unknown: callers that may
// look at a long-finished run keep their own copy (the database) and use it
// when the log is gone.
type EventLog interface {
	// Append adds ev to the run's log and returns its sequence number, which it
	// also stores in the event (ev.Seq is ignored). ev.At is set to the current
	// time if zero. Appending after a Final event fails with ErrLogFinished.
	Append(ctx context.Context, runID string, ev Event) (int64, error)
	// AppendBatch appends evs to the run's log as successive Appends would,
	// in one step (for Redis: one round trip), and returns the Seq of the
	// first: the events get first, first+1, ... with nothing of another
	// append between them. Each event's At is set to the current time if
	// zero. It appends all of evs or none: it fails with ErrLogFinished
	// when the log already holds a Final event, or when an event other than
	// the last is Final (the events after it could not be appended). An
	// empty batch appends nothing and returns 0.
	AppendBatch(ctx context.Context, runID string, evs []Event) (first int64, err error)
	// Last returns the Seq of the run's last event, or 0 when the log holds
	// none (an unknown run, or a log that was lost).
	Last(ctx context.Context, runID string) (int64, error)
	// Advance makes the next Append's Seq greater than after, for a log that
	// must go on past Seqs its followers may have seen though the log no
	// longer holds them (it was lost with a Redis server's data, or with an
	// embedded process): the Seqs in between are never used, and followers
	// pass over them without reporting a gap. A log already past after is
	// unchanged. It fails with ErrLogFinished after a Final event.
	Advance(ctx context.Context, runID string, after int64) error
	// Read returns up to limit events with Seq > after, in order (limit <= 0:
	// all). An unknown run has no events: Read returns an empty slice and no
	// error. The Data of returned events must not be modified.
	Read(ctx context.Context, runID string, after int64, limit int) ([]Event, error)
	// Follow replays events with Seq > after and then delivers new ones as they are
	// appended, in order, without gaps or duplicates. A run without events yet is
	// waited for. The channel is closed after a Final event, when ctx is done,
	// when the broker is closed (Err: ErrClosed), or, in implementations that
	// buffer, when the follower falls too far behind (then Err reports it; the
	// caller may Follow again from the last Seq it received). A slow follower
	// never blocks Append.
	Follow(ctx context.Context, runID string, after int64) (*Subscription, error)
	// FollowFunc is Follow without a channel, for consumers that would
	// otherwise need a goroutine of their own to forward the events: a
	// goroutine of the broker's calls fn with each event, in order, one call at
	// a time, without gaps or duplicates, and fn's pace is the consumer's (it
	// may block, but must return soon once ctx is done). Implementations may
	// keep no goroutine while the follower waits for events. Following stops
	// after fn has been given the Final event, when fn returns false, when ctx
	// is done, or when the broker closes; then done is called once, after the
	// last call of fn, with what Subscription.Err would report. It returns an
	// error, and calls neither fn nor done, when the follower cannot be
	// started.
	FollowFunc(ctx context.Context, runID string, after int64, fn func(Event) bool, done func(error)) error
}

// Subscription is a live view of a run's log. Safe for use by one goroutine.
type Subscription struct {
	C   <-chan Event
	err func() error
}

// NewSubscription is for implementations.
func NewSubscription(c <-chan Event, err func() error) *Subscription {
	return &Subscription{C: c, err: err}
}

// Err reports why C was closed early (nil after a Final event or ctx end). It
// is meaningful once C is closed.
func (s *Subscription) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err()
}

// Broker is a job queue plus per-run event logs. Implementations are safe for
// concurrent use.
type Broker interface {
	Queue
	EventLog
	// Close releases the broker: blocked Claims return ErrClosed, followers are
	// closed, and later calls return ErrClosed. Calling Close again is harmless.
	Close() error
}

// ExponentialBackoff returns a retry backoff for the brokers' WithBackoff
// options: base after the first attempt, doubling after each further one,
// capped at maxDelay. The returned function is safe for concurrent use.
func ExponentialBackoff(base, maxDelay time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < maxDelay; i++ {
			d *= 2
		}
		return min(d, maxDelay)
	}
}

// FinalInside returns an error wrapping ErrLogFinished when an event of evs
// other than the last is Final, for AppendBatch's implementations. It is
// safe for concurrent use.
func FinalInside(runID string, evs []Event) error {
	for i := 0; i < len(evs)-1; i++ {
		if evs[i].Final {
			return fmt.Errorf("%w: run %q: event %d of a batch of %d is Final", ErrLogFinished, runID, i+1, len(evs))
		}
	}
	return nil
}
