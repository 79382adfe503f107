package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// Defaults used by New when no option overrides them.
const (
	// DefaultPrefix is the key prefix.
	DefaultPrefix = "autoanalyst:"
	// DefaultBackoffBase is the delay before the first retry of a failed job;
	// it doubles with each further attempt, up to DefaultBackoffMax.
	DefaultBackoffBase = time.Second
	// DefaultBackoffMax caps the retry delay.
	DefaultBackoffMax = time.Minute
	// DefaultLogRetention is how long a run's log is kept after its Final event.
	DefaultLogRetention = time.Hour
	// DefaultMaxLen is about how many events a run's stream keeps.
	DefaultMaxLen = 10000
	// DefaultDeadLimit is how many dead-lettered jobs are kept for inspection.
	DefaultDeadLimit = 1000
	// DefaultFollowerQueue is how many events a follower may have waiting
	// before it is closed with ErrFollowerTooSlow.
	DefaultFollowerQueue = 4096
	// DefaultAffinityTTL is how long a process keeps an affinity key after
	// it claimed the key's last job: the executor's default kernel idle
	// timeout (KERNEL_IDLE_TIMEOUT).
	DefaultAffinityTTL = 10 * time.Minute
	// DefaultLiveness is how long a process that claims jobs is taken for
	// alive after its last heartbeat; it beats every third of that.
	DefaultLiveness = 5 * time.Second
	// DefaultStealAfter is how long a job sent to a live process by
	// affinity may wait at the head of that process's list before an idle
	// process takes it.
	DefaultStealAfter = time.Second
)

// ErrFollowerTooSlow is Subscription.Err of a follower closed because its
// consumer stopped reading while events kept coming. Follow again from the
// last Seq received to resume.
var ErrFollowerTooSlow = errors.New("redis broker: follower too slow")

// Option configures a Broker created by New. Options are plain values, safe
// to share between goroutines and to reuse.
type Option func(*config)

type config struct {
	prefix        string
	backoff       func(attempt int) time.Duration
	logRetention  time.Duration
	maxLen        int64
	deadLimit     int
	followerQueue int
	logf          func(format string, args ...any)
	metrics       *metrics.Metrics
	affinityTTL   time.Duration
	liveness      time.Duration
	stealAfter    time.Duration
}

// WithMetrics makes the event reader report its lag (the age of the last
// event it delivered) to m.
func WithMetrics(m *metrics.Metrics) Option { return func(c *config) { c.metrics = m } }

// WithPrefix sets the prefix of every key (default DefaultPrefix). Processes
// share jobs and logs exactly when they share a Redis server and a prefix.
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithBackoff sets the delay before a failed job (Fail with retry) becomes
// claimable again; attempt is the attempt that failed (1 for the first
// delivery). The default is ExponentialBackoff(DefaultBackoffBase,
// DefaultBackoffMax). f must be safe for concurrent use.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(c *config) { c.backoff = f }
}

// WithLogRetention sets how long a run's event log is kept after its Final
// event (default DefaultLogRetention; at least a millisecond).
func WithLogRetention(d time.Duration) Option {
	return func(c *config) { c.logRetention = max(d, time.Millisecond) }
}

// WithMaxLen sets about how many events a run's stream keeps (MAXLEN ~);
// default DefaultMaxLen.
func WithMaxLen(n int64) Option { return func(c *config) { c.maxLen = max(n, 1) } }

// WithDeadLimit sets how many dead-lettered jobs Dead keeps (the oldest are
// dropped first); default DefaultDeadLimit. Zero or negative keeps none.
func WithDeadLimit(n int) Option { return func(c *config) { c.deadLimit = max(n, 0) } }

// WithFollowerQueue sets how many events may wait for a follower's consumer
// before the follower is dropped; default DefaultFollowerQueue. The queue
// takes memory only while events wait.
func WithFollowerQueue(n int) Option { return func(c *config) { c.followerQueue = max(n, 1) } }

// WithLogf sets where the broker reports transient errors it recovers from
// (Redis unreachable); by default they are dropped. f must be safe for
// concurrent use.
func WithLogf(f func(format string, args ...any)) Option { return func(c *config) { c.logf = f } }

// ExponentialBackoff is broker.ExponentialBackoff, for WithBackoff.
func ExponentialBackoff(base, maxDelay time.Duration) func(attempt int) time.Duration {
	return broker.ExponentialBackoff(base, maxDelay)
}

// Broker is the Redis broker.Broker. Create it with New. It is safe for
// concurrent use by multiple goroutines.
type Broker struct {
	cfg  config
	rdb  *goredis.Client
	opts *goredis.Options

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	stop      context.CancelFunc
	stopCtx   context.Context

	reader *reader

	owner     string    // this process's ID among the claiming processes
	beatOnce  sync.Once // starts the heartbeat at the first Claim
	beating   bool      // set by beatOnce; read by Close after closeOnce
	beatsDone chan struct{}
}

// New returns a Broker on the given client. The client stays the caller's:
// Close does not close it. The reader of followed streams uses one connection
// of its own, made with the client's options.
func New(client *goredis.Client, opts ...Option) *Broker {
	cfg := config{
		prefix:        DefaultPrefix,
		backoff:       ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax),
		logRetention:  DefaultLogRetention,
		maxLen:        DefaultMaxLen,
		deadLimit:     DefaultDeadLimit,
		followerQueue: DefaultFollowerQueue,
		logf:          func(string, ...any) {},
		affinityTTL:   DefaultAffinityTTL,
		liveness:      DefaultLiveness,
		stealAfter:    DefaultStealAfter,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.backoff == nil {
		cfg.backoff = func(int) time.Duration { return 0 }
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Broker{cfg: cfg, rdb: client, opts: client.Options(), done: make(chan struct{}), stop: stop, stopCtx: ctx,
		owner: newToken()[:16], beatsDone: make(chan struct{})}
	b.reader = newReader(b)
	return b
}

// Close implements broker.Broker: blocked Claims return broker.ErrClosed,
// followers are closed with broker.ErrClosed, and later calls return
// broker.ErrClosed. A broker that claimed jobs also stops its heartbeat and
// hands the jobs sent to it by affinity back to the shared queue (one Redis
// call, given up after a second: otherwise they go back once its liveness
// expires). The client given to New stays open. Calling Close again is
// harmless. It is safe for concurrent use.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		close(b.done)
		b.stop()
		b.reader.close()
		b.beatOnce.Do(func() {}) // no heartbeat starts from now on
		if b.beating {
			<-b.beatsDone
			b.retire()
		}
	})
	return nil
}

func (b *Broker) key(s string) string { return b.cfg.prefix + s }

// check returns broker.ErrClosed after Close, else ctx's error.
func (b *Broker) check(ctx context.Context) error {
	select {
	case <-b.done:
		return broker.ErrClosed
	default:
	}
	return ctx.Err()
}

// bind returns a ctx that is also cancelled by Close.
func (b *Broker) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.stopCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Ping checks that Redis answers. It is safe for concurrent use.
func (b *Broker) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis broker: ping: %w", err)
	}
	return nil
}

var _ broker.Broker = (*Broker)(nil)

// Register records deployment (something that names the deployment's
// database, with no secret) as the owner of the key prefix, unless another
// deployment registered first, and returns the owner. Workers of two
// deployments that share a Redis server and prefix would take each other's
// jobs: a caller that finds another owner warns. It is safe for concurrent
// use.
func (b *Broker) Register(ctx context.Context, deployment string) (string, error) {
	key := b.key("deployment")
	if err := b.rdb.SetNX(ctx, key, deployment, 0).Err(); err != nil {
		return "", fmt.Errorf("redis broker: register deployment: %w", err)
	}
	owner, err := b.rdb.Get(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("redis broker: read deployment: %w", err)
	}
	return owner, nil
}
