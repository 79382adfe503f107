// Package memory is the in-process implementation of broker.Broker: the
// embedded default for a single process. Jobs and event logs live in memory and
// are lost when the process exits.
//
// It keeps no background goroutines of its own: lease expiries, retry backoffs
// and log retention are applied lazily by the calls that look at them, and a
// blocked Claim sleeps exactly until the next job can become claimable. Each
// Follow runs one goroutine, which ends when its channel is closed.
//
// Followers never overflow: each follower reads the log from its own position,
// so a slow follower neither blocks Append nor misses an event, and
// Subscription.Err is nil unless the broker was closed (broker.ErrClosed).
//
// A job is forgotten once acked or dead-lettered, so its ID may be enqueued
// again; dead-lettered jobs are listed by Broker.Dead. A finished log is removed
// WithLogRetention after its Final event; the run is then unknown: Read returns
// nothing, Follow waits for a new first event, and Append starts a new log at 1.
package memory

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// DeadJob is a dead-lettered job, as reported by Broker.Dead. It is a copy,
// safe to use from any goroutine.
type DeadJob struct {
	Job broker.Job
	// Attempts is the number of deliveries the job had.
	Attempts int
	// Reason says why the job was given up: the Fail reason or a lease expiry.
	Reason string
	// At is when the job was dead-lettered.
	At time.Time
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
	dead    []DeadJob

	runs     map[string]*runLog
	finished []finishedRun // ordered by removal time
	follow   sync.WaitGroup
}

var _ broker.Broker = (*Broker)(nil)

type jobState int

const (
	stateReady jobState = iota
	stateDelayed
	stateLeased
)

type job struct {
	job      broker.Job
	state    jobState
	attempts int // deliveries counted so far
	canceled bool

	elem      *list.Element // stateReady
	readyAt   time.Time     // stateDelayed
	token     string        // stateLeased
	expiresAt time.Time     // stateLeased
}

func (j *job) maxAttempts() int {
	if j.job.MaxAttempts > 0 {
		return j.job.MaxAttempts
	}
	return broker.DefaultMaxAttempts
}

type runLog struct {
	events    []broker.Event
	final     bool
	followers int
	// parked are followers that have delivered every event and wait for
	// the next Append, without a goroutine.
	parked map[*follower]struct{}
}

// wake starts the delivering goroutine of every parked follower; b.mu is held.
func (r *runLog) wake() {
	for f := range r.parked {
		delete(r.parked, f)
		go f.drain()
	}
}

type finishedRun struct {
	id       string
	log      *runLog
	removeAt time.Time
}

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

// ---- queue ----

// Enqueue implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Enqueue(ctx context.Context, jb broker.Job) error {
	if jb.ID == "" {
		return errors.New("memory: job ID is empty")
	}
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	if _, ok := b.jobs[jb.ID]; ok {
		return fmt.Errorf("%w: %q", broker.ErrDuplicateJob, jb.ID)
	}
	jb.Payload = slices.Clone(jb.Payload)
	jb.TraceContext = maps.Clone(jb.TraceContext)
	j := &job{job: jb}
	b.jobs[jb.ID] = j
	b.makeReady(j)
	return nil
}

// Claim implements broker.Queue: it waits for the first claimable job in FIFO
// order. It returns ctx.Err() when ctx is done and broker.ErrClosed when the
// broker is closed. It is safe for concurrent use.
func (b *Broker) Claim(ctx context.Context, ttl time.Duration) (*broker.Lease, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("memory: lease ttl must be positive, got %v", ttl)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now, err := b.begin(ctx)
		if err != nil {
			return nil, err
		}
		if e := b.ready.Front(); e != nil {
			j := e.Value.(*job)
			b.ready.Remove(e)
			j.elem = nil
			j.state = stateLeased
			j.attempts++
			b.seq++
			j.token = strconv.FormatUint(b.seq, 10)
			j.expiresAt = now.Add(ttl)
			b.leased[j] = struct{}{}
			l := &broker.Lease{Job: j.job, Attempt: j.attempts, Token: j.token, ExpiresAt: j.expiresAt}
			l.Job.Payload = slices.Clone(l.Job.Payload)
			l.Job.TraceContext = maps.Clone(l.Job.TraceContext)
			b.mu.Unlock()
			return l, nil
		}
		changed := b.changed
		next, ok := b.nextDeadline()
		b.mu.Unlock()

		var tick <-chan time.Time
		if ok {
			d := next.Sub(now)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tick = timer.C
		}
		select {
		case <-changed:
		case <-tick:
		case <-ctx.Done():
		case <-b.done:
		}
	}
}

// Extend implements broker.Queue. It is safe for concurrent use, but not
// concurrently with reads of l.ExpiresAt, which it updates.
func (b *Broker) Extend(ctx context.Context, l *broker.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: lease ttl must be positive, got %v", ttl)
	}
	now, err := b.begin(ctx)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
	j, err := b.held(l)
	if err != nil {
		return err
	}
	j.expiresAt = now.Add(ttl)
	l.ExpiresAt = j.expiresAt
	if j.canceled {
		return broker.ErrCanceled
	}
	return nil
}

// Ack implements broker.Queue: the job is finished and forgotten. It is safe
// for concurrent use.
func (b *Broker) Ack(ctx context.Context, l *broker.Lease) error {
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	j, err := b.held(l)
	if err != nil {
		return err
	}
	b.forget(j)
	return nil
}

// Fail implements broker.Queue. A retried job waits for the WithBackoff delay
// of its attempt; a job given up is added to Dead. It is safe for concurrent
// use.
func (b *Broker) Fail(ctx context.Context, l *broker.Lease, reason error, retry bool) (bool, error) {
	now, err := b.begin(ctx)
	if err != nil {
		return false, err
	}
	defer b.mu.Unlock()
	j, err := b.held(l)
	if err != nil {
		return false, err
	}
	why := "failed"
	if reason != nil {
		why = reason.Error()
	}
	if !retry || j.attempts >= j.maxAttempts() {
		if retry {
			why = fmt.Sprintf("%s (attempt %d of %d)", why, j.attempts, j.maxAttempts())
		}
		b.bury(j, why, now)
		return false, nil
	}
	delete(b.leased, j)
	j.token = ""
	var d time.Duration
	if b.cfg.backoff != nil {
		d = b.cfg.backoff(j.attempts)
	}
	if d <= 0 {
		b.makeReady(j)
		return true, nil
	}
	j.state = stateDelayed
	j.readyAt = now.Add(d)
	b.delayed[j] = struct{}{}
	b.notify()
	return true, nil
}

// Release implements broker.Queue: the job is claimable again at once, at the
// end of the queue, and the attempt is not counted. It is safe for concurrent
// use.
func (b *Broker) Release(ctx context.Context, l *broker.Lease) error {
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	defer b.mu.Unlock()
	j, err := b.held(l)
	if err != nil {
		return err
	}
	delete(b.leased, j)
	j.token = ""
	j.attempts--
	b.makeReady(j)
	return nil
}

// Cancel implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Cancel(ctx context.Context, jobID string) (broker.JobState, error) {
	if _, err := b.begin(ctx); err != nil {
		return "", err
	}
	defer b.mu.Unlock()
	j, ok := b.jobs[jobID]
	if !ok {
		return "", fmt.Errorf("%w: %q", broker.ErrJobNotFound, jobID)
	}
	if j.state == stateLeased {
		j.canceled = true
		return broker.JobRunning, nil
	}
	b.forget(j)
	return broker.JobQueued, nil
}

// Dead returns the dead-lettered jobs, oldest first (at most the WithDeadLimit
// most recent). It is safe for concurrent use.
func (b *Broker) Dead() []DeadJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reap(time.Now())
	return slices.Clone(b.dead)
}

// Stats implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Stats(ctx context.Context) (broker.QueueStats, error) {
	if _, err := b.begin(ctx); err != nil {
		return broker.QueueStats{}, err
	}
	defer b.mu.Unlock()
	return broker.QueueStats{
		Ready:    int64(b.ready.Len()),
		Leased:   int64(len(b.leased)),
		Retrying: int64(len(b.delayed)),
		Dead:     int64(len(b.dead)),
	}, nil
}

// held returns the job l leases, or ErrLeaseLost. b.mu is held and b reaped.
func (b *Broker) held(l *broker.Lease) (*job, error) {
	if l == nil {
		return nil, errors.New("memory: nil lease")
	}
	j, ok := b.jobs[l.Job.ID]
	if !ok || j.state != stateLeased || j.token != l.Token {
		return nil, fmt.Errorf("%w: job %q", broker.ErrLeaseLost, l.Job.ID)
	}
	return j, nil
}

// makeReady appends j to the ready queue and wakes claimers.
func (b *Broker) makeReady(j *job) {
	j.state = stateReady
	j.elem = b.ready.PushBack(j)
	b.notify()
}

// forget removes j from every structure.
func (b *Broker) forget(j *job) {
	switch j.state {
	case stateReady:
		b.ready.Remove(j.elem)
		j.elem = nil
	case stateDelayed:
		delete(b.delayed, j)
	case stateLeased:
		delete(b.leased, j)
	}
	delete(b.jobs, j.job.ID)
	b.notify()
}

// bury dead-letters j.
func (b *Broker) bury(j *job, reason string, now time.Time) {
	b.forget(j)
	if b.cfg.deadLimit == 0 {
		return
	}
	if len(b.dead) >= b.cfg.deadLimit {
		b.dead = slices.Delete(b.dead, 0, len(b.dead)-b.cfg.deadLimit+1)
	}
	b.dead = append(b.dead, DeadJob{Job: j.job, Attempts: j.attempts, Reason: reason, At: now})
}

func (b *Broker) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// reap expires leases and ends retry delays that are due at now, in the order
// they fell due.
func (b *Broker) reap(now time.Time) {
	var due []*job
	for j := range b.leased {
		if !j.expiresAt.After(now) {
			due = append(due, j)
		}
	}
	for j := range b.delayed {
		if !j.readyAt.After(now) {
			due = append(due, j)
		}
	}
	if len(due) == 0 {
		return
	}
	slices.SortFunc(due, func(x, y *job) int { return x.deadline().Compare(y.deadline()) })
	for _, j := range due {
		switch j.state {
		case stateLeased:
			if j.attempts >= j.maxAttempts() {
				b.bury(j, fmt.Sprintf("lease expired (attempt %d of %d)", j.attempts, j.maxAttempts()), now)
				continue
			}
			delete(b.leased, j)
			j.token = ""
		case stateDelayed:
			delete(b.delayed, j)
		}
		b.makeReady(j)
	}
}

func (j *job) deadline() time.Time {
	if j.state == stateLeased {
		return j.expiresAt
	}
	return j.readyAt
}

// nextDeadline is the earliest time at which reap will have something to do.
func (b *Broker) nextDeadline() (time.Time, bool) {
	var next time.Time
	for j := range b.leased {
		if next.IsZero() || j.expiresAt.Before(next) {
			next = j.expiresAt
		}
	}
	for j := range b.delayed {
		if next.IsZero() || j.readyAt.Before(next) {
			next = j.readyAt
		}
	}
	return next, !next.IsZero()
}

// ---- event log ----

// Append implements broker.EventLog. It never waits for followers. It is safe
// for concurrent use.
func (b *Broker) Append(ctx context.Context, runID string, ev broker.Event) (int64, error) {
	now, err := b.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer b.mu.Unlock()
	r := b.runs[runID]
	if r == nil {
		r = &runLog{}
		b.runs[runID] = r
	}
	if r.final {
		return 0, fmt.Errorf("%w: run %q", broker.ErrLogFinished, runID)
	}
	ev.Seq = int64(len(r.events)) + 1
	if ev.At.IsZero() {
		ev.At = now
	}
	ev.Data = slices.Clone(ev.Data)
	r.events = append(r.events, ev)
	if ev.Final {
		r.final = true
		b.finished = append(b.finished, finishedRun{id: runID, log: r, removeAt: now.Add(b.cfg.logRetention)})
	}
	r.wake()
	return ev.Seq, nil
}

// Read implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Read(ctx context.Context, runID string, after int64, limit int) ([]broker.Event, error) {
	if _, err := b.begin(ctx); err != nil {
		return nil, err
	}
	defer b.mu.Unlock()
	var evs []broker.Event
	if r := b.runs[runID]; r != nil {
		evs = r.from(after)
	}
	if limit > 0 && len(evs) > limit {
		evs = evs[:limit]
	}
	return append([]broker.Event{}, evs...), nil
}

// Follow implements broker.EventLog. The follower reads the log from its own
// position, so it never falls behind for good: it receives every event however
// slowly it reads, and Append never waits for it. Err is nil after a Final
// event or ctx end and broker.ErrClosed after Close. It is safe for concurrent
// use; the Subscription is for one goroutine.
func (b *Broker) Follow(ctx context.Context, runID string, after int64) (*broker.Subscription, error) {
	ch := make(chan broker.Event)
	var (
		errMu sync.Mutex
		err   error
	)
	send := func(ev broker.Event) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
		case <-b.done:
		}
		return false
	}
	done := func(e error) {
		errMu.Lock()
		err = e
		errMu.Unlock()
		close(ch)
	}
	if e := b.FollowFunc(ctx, runID, after, send, done); e != nil {
		return nil, e
	}
	return broker.NewSubscription(ch, func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return err
	}), nil
}

// FollowFunc implements broker.EventLog. done reports nil after the Final
// event, fn's false or ctx end, and broker.ErrClosed after Close. A follower
// keeps no goroutine while it waits for events: Append starts one that
// delivers what is new and returns. It is safe for concurrent use.
func (b *Broker) FollowFunc(ctx context.Context, runID string, after int64, fn func(broker.Event) bool, done func(error)) error {
	if _, err := b.begin(ctx); err != nil {
		return err
	}
	r := b.runs[runID]
	if r == nil {
		r = &runLog{}
		b.runs[runID] = r
	}
	r.followers++
	b.follow.Add(1)
	f := &follower{b: b, ctx: ctx, runID: runID, r: r, fn: fn, done: done, pos: max(after, 0)}
	// Ending ctx wakes a parked follower so that it ends.
	f.stopCtx = context.AfterFunc(ctx, func() {
		b.mu.Lock()
		if _, ok := r.parked[f]; ok {
			delete(r.parked, f)
			go f.drain()
		}
		b.mu.Unlock()
	})
	b.mu.Unlock()
	go f.drain()
	return nil
}

// follower is one FollowFunc of the memory broker.
type follower struct {
	b       *Broker
	ctx     context.Context
	runID   string
	r       *runLog
	fn      func(broker.Event) bool
	done    func(error)
	stopCtx func() bool
	pos     int64 // the last Seq delivered; only the draining goroutine uses it
}

// drain delivers the events after pos, then parks the follower (or ends it).
func (f *follower) drain() {
	for {
		f.b.mu.Lock()
		if f.b.closed {
			f.b.mu.Unlock()
			f.finish(broker.ErrClosed)
			return
		}
		if f.ctx.Err() != nil {
			f.b.mu.Unlock()
			f.finish(nil)
			return
		}
		evs, final := f.r.from(f.pos), f.r.final
		if len(evs) == 0 {
			if final {
				f.b.mu.Unlock()
				f.finish(nil)
				return
			}
			if f.r.parked == nil {
				f.r.parked = map[*follower]struct{}{}
			}
			f.r.parked[f] = struct{}{}
			f.b.mu.Unlock()
			return
		}
		f.b.mu.Unlock()
		for _, ev := range evs {
			if stop, err := f.stopped(); stop {
				f.finish(err)
				return
			}
			if !f.fn(ev) {
				_, err := f.stopped() // fn may have given up because the broker closed
				f.finish(err)
				return
			}
			f.pos = ev.Seq
			if ev.Final {
				f.finish(nil)
				return
			}
		}
	}
}

// stopped reports whether following must stop, and with what error.
func (f *follower) stopped() (bool, error) {
	select {
	case <-f.b.done:
		return true, broker.ErrClosed
	default:
	}
	return f.ctx.Err() != nil, nil
}

func (f *follower) finish(err error) {
	f.stopCtx()
	f.b.unfollow(f.runID, f.r)
	f.done(err)
	f.b.follow.Done()
}

// unfollow drops a follower; a log that only followers created goes with them.
func (b *Broker) unfollow(runID string, r *runLog) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.followers--
	if r.followers == 0 && len(r.events) == 0 && b.runs[runID] == r {
		delete(b.runs, runID)
	}
}

// from returns the events with Seq > after. Elements below len(r.events) are
// never modified, so the result may be read after b.mu is released.
func (r *runLog) from(after int64) []broker.Event {
	if after < 0 {
		after = 0
	}
	if after >= int64(len(r.events)) {
		return nil
	}
	return r.events[after:len(r.events):len(r.events)]
}

// purge removes finished logs whose retention has passed.
func (b *Broker) purge(now time.Time) {
	n := 0
	for _, f := range b.finished {
		if f.removeAt.After(now) {
			break
		}
		if b.runs[f.id] == f.log {
			delete(b.runs, f.id)
		}
		n++
	}
	if n > 0 {
		b.finished = slices.Delete(b.finished, 0, n)
	}
}
