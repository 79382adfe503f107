package memory

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// Defaults used by New when no option overrides them.
const (
	// DefaultBackoffBase is the delay before the first retry of a failed job;
	// it doubles with each further attempt, up to DefaultBackoffMax.
	DefaultBackoffBase = time.Second
	// DefaultBackoffMax caps the retry delay.
	DefaultBackoffMax = time.Minute
	// DefaultLogRetention is how long a run's log is kept after its Final event.
	DefaultLogRetention = time.Hour
	// DefaultDeadLimit is how many dead-lettered jobs are kept for inspection.
	DefaultDeadLimit = 1000
)

// Option configures a Broker created by New. Options are plain values, safe to
// share between goroutines and to reuse.
type Option func(*config)

type config struct {
	backoff      func(attempt int) time.Duration
	logRetention time.Duration
	deadLimit    int
}

// WithBackoff sets the delay before a failed job (Fail with retry) becomes
// claimable again; attempt is the attempt that failed (1 for the first
// delivery). A nil f or a negative delay means no delay. The default is
// ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax). f is called with
// the broker's lock held: it must be quick and must not call the Broker.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(c *config) { c.backoff = f }
}

// WithLogRetention sets how long a run's event log is kept after its Final
// event (default DefaultLogRetention). Zero or negative: removed at once.
func WithLogRetention(d time.Duration) Option {
	return func(c *config) { c.logRetention = max(d, 0) }
}

// WithDeadLimit sets how many dead-lettered jobs Dead keeps (the oldest are
// dropped first); default DefaultDeadLimit. Zero or negative keeps none.
func WithDeadLimit(n int) Option {
	return func(c *config) { c.deadLimit = max(n, 0) }
}

// ExponentialBackoff is broker.ExponentialBackoff, for WithBackoff.
func ExponentialBackoff(base, maxDelay time.Duration) func(attempt int) time.Duration {
	return broker.ExponentialBackoff(base, maxDelay)
}

// Broker is the in-memory broker.Broker. Create it with New. It is safe for
// concurrent use by multiple goroutines.
type Broker struct {
	cfg config

	mu      sync.Mutex
	closed  bool
	done    chan struct{} // closed by Close
	changed chan struct{} // closed and replaced whenever the queue changes
	seq     uint64        // lease token counter

	jobs    map[string]*job
	ready   *list.List        // of *job, in claim order
	delayed map[*job]struct{} // waiting for a retry
	leased  map[*job]struct{}
	dead    []broker.DeadJob

	runs     map[string]*runLog
	finished []finishedRun // ordered by removal time
	follow   sync.WaitGroup
}

var _ broker.Broker = (*Broker)(nil)

// New returns an empty in-memory broker configured by opts. The returned
// Broker is safe for concurrent use.
func New(opts ...Option) *Broker {
	cfg := config{
		backoff:      ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax),
		logRetention: DefaultLogRetention,
		deadLimit:    DefaultDeadLimit,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return &Broker{
		cfg:     cfg,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		jobs:    make(map[string]*job),
		ready:   list.New(),
		delayed: make(map[*job]struct{}),
		leased:  make(map[*job]struct{}),
		runs:    make(map[string]*runLog),
	}
}

// Close implements broker.Broker. Blocked Claims return broker.ErrClosed and
// followers are closed (their Err reports broker.ErrClosed); Close waits for the
// follower goroutines to end. Calling Close again returns nil. It is safe for
// concurrent use.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	for _, r := range b.runs {
		r.wake()
	}
	b.mu.Unlock()
	b.follow.Wait()
	return nil
}

// begin locks b and applies what time has done; the caller must unlock.
func (b *Broker) begin(ctx context.Context) (time.Time, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return time.Time{}, broker.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		b.mu.Unlock()
		return time.Time{}, err
	}
	now := time.Now()
	b.reap(now)
	b.purge(now)
	return now, nil
}
