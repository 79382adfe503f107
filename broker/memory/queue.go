package memory

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// jobState is where a job is: in the ready queue, waiting for a retry, or
// leased to a worker.
type jobState int

const (
	stateReady jobState = iota
	stateDelayed
	stateLeased
)

// job is a queued job and its delivery state; b.mu guards it.
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

// maxAttempts is how many deliveries j may have.
func (j *job) maxAttempts() int {
	if j.job.MaxAttempts > 0 {
		return j.job.MaxAttempts
	}
	return broker.DefaultMaxAttempts
}

// deadline is when j's lease expires or its retry delay ends.
func (j *job) deadline() time.Time {
	if j.state == stateLeased {
		return j.expiresAt
	}
	return j.readyAt
}

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
	j, now, err := b.beginLease(ctx, l)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
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
	j, _, err := b.beginLease(ctx, l)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
	b.forget(j)
	return nil
}

// Fail implements broker.Queue. A retried job waits for the WithBackoff delay
// of its attempt; a job given up is added to Dead. It is safe for concurrent
// use.
func (b *Broker) Fail(ctx context.Context, l *broker.Lease, reason error, retry bool) (bool, error) {
	j, now, err := b.beginLease(ctx, l)
	if err != nil {
		return false, err
	}
	defer b.mu.Unlock()
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
	j, _, err := b.beginLease(ctx, l)
	if err != nil {
		return err
	}
	defer b.mu.Unlock()
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

// Lookup implements broker.Queue. A dead job is known while its dead letter
// is kept (WithDeadLimit). It is safe for concurrent use.
func (b *Broker) Lookup(ctx context.Context, jobID string) (broker.JobInfo, error) {
	if _, err := b.begin(ctx); err != nil {
		return broker.JobInfo{}, err
	}
	defer b.mu.Unlock()
	if j, ok := b.jobs[jobID]; ok {
		st := broker.JobQueued
		if j.state == stateLeased {
			st = broker.JobRunning
		}
		return broker.JobInfo{State: st, Attempts: j.attempts}, nil
	}
	for i := len(b.dead) - 1; i >= 0; i-- {
		if d := b.dead[i]; d.Job.ID == jobID {
			return broker.JobInfo{State: broker.JobDead, Attempts: d.Attempts, Reason: d.Reason}, nil
		}
	}
	return broker.JobInfo{State: broker.JobUnknown}, nil
}

// Dead returns the dead-lettered jobs, oldest first (at most the WithDeadLimit
// most recent). It is safe for concurrent use.
func (b *Broker) Dead() []broker.DeadJob {
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

// beginLease is begin followed by held: on success b is locked (the caller
// must unlock) and the job l leases is returned with the time begin read.
func (b *Broker) beginLease(ctx context.Context, l *broker.Lease) (*job, time.Time, error) {
	now, err := b.begin(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	j, err := b.held(l)
	if err != nil {
		b.mu.Unlock()
		return nil, time.Time{}, err
	}
	return j, now, nil
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
	b.dead = append(b.dead, broker.DeadJob{Job: j.job, Attempts: j.attempts, Reason: reason, At: now})
}

// notify wakes every blocked Claim.
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
