package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
)

// Results of the lease scripts.
const (
	leaseHeld     = 1
	leaseCanceled = 2
	leaseLost     = -1
)

// jobState is the state field of a job's hash.
const (
	stateQueued = "queued"
	stateLeased = "leased"
	stateRetry  = "retry"
)

// The Lua scripts. Every one reads the server's clock, so that all
// processes agree on lease expiries. The key of a job's hash is
// KEYS[prefix index] .. id.

// deadRetention is how long a dead job's hash is kept (for Lookup; its
// entry in the dead list is kept by count, WithDeadLimit).
const deadRetention = 7 * 24 * time.Hour

var deadRetentionMS = strconv.FormatInt(deadRetention.Milliseconds(), 10)

// luaHelpers are shared by the scripts that may dead-letter a job.
var luaHelpers = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function bury(jobkey, id, reason, deadkey, limit, now)
  local j = redis.call('HMGET', jobkey, 'kind', 'payload', 'max', 'attempt', 'trace', 'aff')
  local entry = cjson.encode({id = id, kind = j[1] or '', payload = j[2] or '', max = tonumber(j[3]) or 0,
    attempts = tonumber(j[4]) or 0, reason = reason, at = now, trace = j[5] or '', aff = j[6] or ''})
  redis.call('RPUSH', deadkey, entry)
  if limit > 0 then
    redis.call('LTRIM', deadkey, -limit, -1)
  else
    redis.call('DEL', deadkey)
  end
  -- The hash stays, marked dead, for Lookup (and so that the ID is not
  -- enqueued again), until the dead retention passes.
  redis.call('HSET', jobkey, 'state', 'dead', 'reason', reason, 'token', '')
  redis.call('HDEL', jobkey, 'cancel')
  redis.call('PEXPIRE', jobkey, ` + deadRetentionMS + `)
end
`

// KEYS: job, ready, wake, owners. ARGV: id, kind, payload, max, trace
// context (JSON, or empty), affinity key (or empty), queue key prefix (P q:).
// The job's hash records when it was enqueued (at); a job whose affinity
// key has a live owner goes to the owner's list (the hash's list field names
// the owner).
var enqueueScript = goredis.NewScript(luaHelpers + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'payload', ARGV[3], 'max', ARGV[4], 'attempt', 0, 'state', 'queued',
  'trace', ARGV[5], 'aff', ARGV[6], 'at', now_ms())
local ready, wake = KEYS[2], KEYS[3]
if ARGV[6] ~= '' then
  local o = redis.call('GET', ARGV[7] .. 'aff:' .. ARGV[6])
  if o and redis.call('EXISTS', ARGV[7] .. 'owner:' .. o .. ':alive') == 1 then
    ready, wake = ARGV[7] .. 'owner:' .. o .. ':ready', ARGV[7] .. 'owner:' .. o .. ':wake'
    redis.call('HSET', KEYS[1], 'list', o)
    redis.call('SADD', KEYS[4], o)
  end
end
redis.call('RPUSH', ready, ARGV[1])
redis.call('RPUSH', wake, 1)
redis.call('LTRIM', wake, -64, -1)
return 1
`)

// KEYS: ready, leased, retry, dead, job prefix, own ready, owners. ARGV: ttl
// ms, token, dead limit, owner, affinity ttl ms, steal after ms, queue key
// prefix (P q:). Returns {id, kind, payload, attempt, max, expires, trace,
// affinity} or {false, wait ms}.
//
// Expired leases and due retries go to the shared list, and so do the lists
// of owners that are no longer alive (to its head, in order: they waited
// longest). Then the claimer takes the older (by enqueue time) of the heads
// of its own list and of the shared list, so that neither starves the
// other, else, when the head of a live owner's list has waited longer than
// the steal bound, that head. Claiming a job with an affinity
// key makes the claimer the key's owner.
var claimScript = goredis.NewScript(luaHelpers + `
local now = now_ms()
local limit = tonumber(ARGV[3])
local q = ARGV[7]
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[2], id)
  local jobkey = KEYS[5] .. id
  local j = redis.call('HMGET', jobkey, 'attempt', 'max')
  local attempt, max = tonumber(j[1]) or 0, tonumber(j[2]) or 0
  if attempt >= max then
    bury(jobkey, id, 'lease expired (attempt ' .. attempt .. ' of ' .. max .. ')', KEYS[4], limit, now)
  else
    redis.call('HSET', jobkey, 'state', 'queued', 'token', '')
    redis.call('RPUSH', KEYS[1], id)
  end
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, 100)) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HSET', KEYS[5] .. id, 'state', 'queued')
  redis.call('RPUSH', KEYS[1], id)
end
local others = {}
for _, o in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  if o ~= ARGV[4] then
    local list = q .. 'owner:' .. o .. ':ready'
    if redis.call('EXISTS', q .. 'owner:' .. o .. ':alive') == 0 then
      while redis.call('LMOVE', list, KEYS[1], 'RIGHT', 'LEFT') do end
      redis.call('SREM', KEYS[7], o)
      redis.call('DEL', q .. 'owner:' .. o .. ':wake')
    else
      others[#others + 1] = list
    end
  end
end
local id
local mine, shared = redis.call('LINDEX', KEYS[6], 0), redis.call('LINDEX', KEYS[1], 0)
if mine and shared and (tonumber(redis.call('HGET', KEYS[5] .. shared, 'at')) or 0) <
    (tonumber(redis.call('HGET', KEYS[5] .. mine, 'at')) or 0) then
  mine = false
end
if mine then
  id = redis.call('LPOP', KEYS[6])
elseif shared then
  id = redis.call('LPOP', KEYS[1])
end
local wait = 1000000
if not id then
  local steal = tonumber(ARGV[6])
  for _, list in ipairs(others) do
    local head = redis.call('LINDEX', list, 0)
    if head then
      local due = (tonumber(redis.call('HGET', KEYS[5] .. head, 'at')) or 0) + steal - now
      if due <= 0 then
        id = redis.call('LPOP', list)
        break
      end
      wait = math.min(wait, due)
    end
  end
end
if not id then
  for _, key in ipairs({KEYS[2], KEYS[3]}) do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then wait = math.min(wait, tonumber(first[2]) - now) end
  end
  return {false, math.max(wait, 0)}
end
local jobkey = KEYS[5] .. id
local attempt = redis.call('HINCRBY', jobkey, 'attempt', 1)
local expires = now + tonumber(ARGV[1])
redis.call('HSET', jobkey, 'state', 'leased', 'token', ARGV[2])
redis.call('HDEL', jobkey, 'list')
redis.call('ZADD', KEYS[2], expires, id)
local j = redis.call('HMGET', jobkey, 'kind', 'payload', 'max', 'trace', 'aff')
local aff = j[5] or ''
if aff ~= '' and tonumber(ARGV[5]) > 0 then
  redis.call('SET', q .. 'aff:' .. aff, ARGV[4], 'PX', ARGV[5])
end
return {id, j[1], j[2], attempt, tonumber(j[3]), expires, j[4] or '', aff}
`)

// luaHeld checks that the lease (id ARGV[1], token ARGV[2]) is still held:
// the token matches, the job is leased, and the lease has not expired.
const luaHeld = `
local now = now_ms()
local j = redis.call('HMGET', KEYS[1], 'token', 'state', 'cancel')
if j[1] ~= ARGV[2] or j[2] ~= 'leased' then return {-1} end
local exp = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not exp or tonumber(exp) <= now then return {-1} end
`

// KEYS: job, leased. ARGV: id, token, ttl ms. Returns {1|2, expires} or {-1}.
var extendScript = goredis.NewScript(luaHelpers + luaHeld + `
local expires = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], expires, ARGV[1])
if j[3] == '1' then return {2, expires} end
return {1, expires}
`)

// KEYS: job, leased. ARGV: id, token.
var ackScript = goredis.NewScript(luaHelpers + luaHeld + `
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return {1}
`)

// KEYS: job, leased, retry, dead, wake. ARGV: id, token, retry (0/1),
// backoff ms, reason, dead limit. Returns {1} (will retry), {0} (dead) or {-1}.
var failScript = goredis.NewScript(luaHelpers + luaHeld + `
redis.call('ZREM', KEYS[2], ARGV[1])
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt')) or 0
local max = tonumber(redis.call('HGET', KEYS[1], 'max')) or 0
if ARGV[3] == '1' and attempt < max then
  redis.call('HSET', KEYS[1], 'state', 'retry', 'token', '')
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('RPUSH', KEYS[5], 1)
  redis.call('LTRIM', KEYS[5], -64, -1)
  return {1}
end
bury(KEYS[1], ARGV[1], ARGV[5], KEYS[4], tonumber(ARGV[6]), now)
return {0}
`)

// KEYS: job, leased, ready, wake. ARGV: id, token.
var releaseScript = goredis.NewScript(luaHelpers + luaHeld + `
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'attempt', -1)
redis.call('HSET', KEYS[1], 'state', 'queued', 'token', '')
redis.call('LPUSH', KEYS[3], ARGV[1])
redis.call('RPUSH', KEYS[4], 1)
redis.call('LTRIM', KEYS[4], -64, -1)
return {1}
`)

// KEYS: job, ready, retry. ARGV: id, queue key prefix (P q:). Returns
// 'queued', 'running' or false. A queued job is in the shared list or in the
// list of the owner its hash names (or was, before the list went back to
// the shared one).
var cancelScript = goredis.NewScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'dead' then return false end
if state == 'queued' then
  local o = redis.call('HGET', KEYS[1], 'list')
  if o and o ~= '' then redis.call('LREM', ARGV[2] .. 'owner:' .. o .. ':ready', 0, ARGV[1]) end
  redis.call('LREM', KEYS[2], 0, ARGV[1])
  redis.call('DEL', KEYS[1])
  return 'queued'
end
if state == 'retry' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[1])
  return 'queued'
end
redis.call('HSET', KEYS[1], 'cancel', '1')
return 'running'
`)

// maxClaimWait bounds one blocking wait of an idle Claim, so that a
// cancelled ctx or Close is noticed quickly.
const maxClaimWait = 200 * time.Millisecond

func (b *Broker) jobKey(id string) string { return b.key("q:job:" + id) }

// Enqueue implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Enqueue(ctx context.Context, job broker.Job) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if job.ID == "" {
		return errors.New("redis broker: enqueue: empty job ID")
	}
	maxAttempts := job.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = broker.DefaultMaxAttempts
	}
	var trace []byte
	if len(job.TraceContext) > 0 {
		trace, _ = json.Marshal(job.TraceContext)
	}
	n, err := enqueueScript.Run(ctx, b.rdb, []string{b.jobKey(job.ID), b.key("q:ready"), b.key("q:wake"), b.key("q:owners")},
		job.ID, job.Kind, string(job.Payload), maxAttempts, string(trace), job.Affinity, b.key("q:")).Int()
	if err != nil {
		return fmt.Errorf("redis broker: enqueue %s: %w", job.ID, err)
	}
	if n == 0 {
		return broker.ErrDuplicateJob
	}
	return nil
}

// Claim implements broker.Queue: it blocks until a job can be leased, ctx is
// done or the broker is closed. It is safe for concurrent use.
func (b *Broker) Claim(ctx context.Context, ttl time.Duration) (*broker.Lease, error) {
	if ttl <= 0 {
		return nil, errors.New("redis broker: claim: ttl must be positive")
	}
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := b.bind(ctx)
	defer cancel()
	b.startHeartbeat()
	backoff := 50 * time.Millisecond
	for {
		if err := b.check(ctx); err != nil {
			return nil, err
		}
		token := newToken()
		res, err := claimScript.Run(ctx, b.rdb, []string{b.key("q:ready"), b.key("q:leased"), b.key("q:retry"),
			b.key("q:dead"), b.key("q:job:"), b.ownerKey(b.owner, "ready"), b.key("q:owners")},
			ttl.Milliseconds(), token, b.cfg.deadLimit, b.owner, b.cfg.affinityTTL.Milliseconds(),
			b.cfg.stealAfter.Milliseconds(), b.key("q:")).Slice()
		if err != nil {
			if cerr := b.check(ctx); cerr != nil {
				return nil, cerr
			}
			b.cfg.logf("redis broker: claim: %v (retrying in %s)", err, backoff)
			if !sleep(ctx, backoff) {
				return nil, b.check(ctx)
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		if len(res) == 8 {
			return leaseFrom(res, token)
		}
		wait := maxClaimWait
		if len(res) == 2 {
			if ms, ok := res[1].(int64); ok {
				wait = min(wait, time.Duration(ms+1)*time.Millisecond)
			}
		}
		// Block on the wake lists (this process's, then the shared one); Redis
		// accepts fractional seconds.
		err = b.rdb.Do(ctx, "BLPOP", b.ownerKey(b.owner, "wake"), b.key("q:wake"),
			strconv.FormatFloat(max(wait.Seconds(), 0.01), 'f', 3, 64)).Err()
		if err != nil && !errors.Is(err, goredis.Nil) {
			if cerr := b.check(ctx); cerr != nil {
				return nil, cerr
			}
			if !sleep(ctx, backoff) {
				return nil, b.check(ctx)
			}
		}
	}
}

func leaseFrom(res []any, token string) (*broker.Lease, error) {
	id, _ := res[0].(string)
	kind, _ := res[1].(string)
	payload, _ := res[2].(string)
	attempt, _ := res[3].(int64)
	maxAttempts, _ := res[4].(int64)
	expires, _ := res[5].(int64)
	if id == "" {
		return nil, fmt.Errorf("redis broker: claim: malformed reply %v", res)
	}
	job := broker.Job{ID: id, Kind: kind, MaxAttempts: int(maxAttempts)}
	if payload != "" {
		job.Payload = json.RawMessage(payload)
	}
	if trace, _ := res[6].(string); trace != "" {
		// A malformed trace context only loses the trace, not the job.
		_ = json.Unmarshal([]byte(trace), &job.TraceContext)
	}
	job.Affinity, _ = res[7].(string)
	return &broker.Lease{Job: job, Attempt: int(attempt), Token: token, ExpiresAt: time.UnixMilli(expires)}, nil
}

// Extend implements broker.Queue. It is safe for concurrent use, but a Lease
// must not be extended from two goroutines at once.
func (b *Broker) Extend(ctx context.Context, l *broker.Lease, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redis broker: extend: ttl must be positive")
	}
	if err := b.check(ctx); err != nil {
		return err
	}
	res, err := extendScript.Run(ctx, b.rdb, []string{b.jobKey(l.Job.ID), b.key("q:leased")},
		l.Job.ID, l.Token, ttl.Milliseconds()).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis broker: extend %s: %w", l.Job.ID, err)
	}
	if res[0] == leaseLost {
		return broker.ErrLeaseLost
	}
	l.ExpiresAt = time.UnixMilli(res[1])
	if res[0] == leaseCanceled {
		return broker.ErrCanceled
	}
	return nil
}

// Ack implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Ack(ctx context.Context, l *broker.Lease) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	res, err := ackScript.Run(ctx, b.rdb, []string{b.jobKey(l.Job.ID), b.key("q:leased")}, l.Job.ID, l.Token).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis broker: ack %s: %w", l.Job.ID, err)
	}
	if res[0] == leaseLost {
		return broker.ErrLeaseLost
	}
	return nil
}

// Fail implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Fail(ctx context.Context, l *broker.Lease, reason error, retry bool) (bool, error) {
	if err := b.check(ctx); err != nil {
		return false, err
	}
	why := "failed"
	if reason != nil {
		why = reason.Error()
	}
	backoff := b.cfg.backoff(l.Attempt)
	r := "0"
	if retry {
		r = "1"
	}
	res, err := failScript.Run(ctx, b.rdb, []string{b.jobKey(l.Job.ID), b.key("q:leased"), b.key("q:retry"),
		b.key("q:dead"), b.key("q:wake")}, l.Job.ID, l.Token, r, max(backoff.Milliseconds(), 0), why, b.cfg.deadLimit).Int64Slice()
	if err != nil {
		return false, fmt.Errorf("redis broker: fail %s: %w", l.Job.ID, err)
	}
	if res[0] == leaseLost {
		return false, broker.ErrLeaseLost
	}
	return res[0] == 1, nil
}

// Release implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Release(ctx context.Context, l *broker.Lease) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	res, err := releaseScript.Run(ctx, b.rdb, []string{b.jobKey(l.Job.ID), b.key("q:leased"), b.key("q:ready"),
		b.key("q:wake")}, l.Job.ID, l.Token).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis broker: release %s: %w", l.Job.ID, err)
	}
	if res[0] == leaseLost {
		return broker.ErrLeaseLost
	}
	return nil
}

// Cancel implements broker.Queue. It is safe for concurrent use.
func (b *Broker) Cancel(ctx context.Context, jobID string) (broker.JobState, error) {
	if err := b.check(ctx); err != nil {
		return "", err
	}
	res, err := cancelScript.Run(ctx, b.rdb, []string{b.jobKey(jobID), b.key("q:ready"), b.key("q:retry")}, jobID,
		b.key("q:")).Text()
	if errors.Is(err, goredis.Nil) {
		return "", broker.ErrJobNotFound
	}
	if err != nil {
		return "", fmt.Errorf("redis broker: cancel %s: %w", jobID, err)
	}
	if res == "queued" {
		return broker.JobQueued, nil
	}
	return broker.JobRunning, nil
}

// Lookup implements broker.Queue, from the job's hash: a dead job is known
// for a week after it was dead-lettered. It is safe for concurrent use.
func (b *Broker) Lookup(ctx context.Context, jobID string) (broker.JobInfo, error) {
	if err := b.check(ctx); err != nil {
		return broker.JobInfo{}, err
	}
	v, err := b.rdb.HMGet(ctx, b.jobKey(jobID), "state", "attempt", "reason").Result()
	if err != nil {
		return broker.JobInfo{}, fmt.Errorf("redis broker: look up job %s: %w", jobID, err)
	}
	state, _ := v[0].(string)
	attempts, _ := v[1].(string)
	reason, _ := v[2].(string)
	info := broker.JobInfo{Reason: reason}
	info.Attempts, _ = strconv.Atoi(attempts)
	switch state {
	case "queued", "retry":
		info.State = broker.JobQueued
	case "leased":
		info.State = broker.JobRunning
	case "dead":
		info.State = broker.JobDead
	default:
		return broker.JobInfo{State: broker.JobUnknown}, nil
	}
	return info, nil
}

// Stats implements broker.Queue, from one script (one round trip); Ready
// counts the jobs of the shared list and of the processes' own lists. It is
// safe for concurrent use.
func (b *Broker) Stats(ctx context.Context) (broker.QueueStats, error) {
	if err := b.check(ctx); err != nil {
		return broker.QueueStats{}, err
	}
	n, err := statsScript.Run(ctx, b.rdb, []string{b.key("q:ready"), b.key("q:leased"), b.key("q:retry"),
		b.key("q:dead"), b.key("q:owners")}, b.key("q:")).Int64Slice()
	if err != nil {
		return broker.QueueStats{}, fmt.Errorf("redis broker: queue stats: %w", err)
	}
	if len(n) != 4 {
		return broker.QueueStats{}, fmt.Errorf("redis broker: queue stats: malformed reply %v", n)
	}
	return broker.QueueStats{Ready: n[0], Leased: n[1], Retrying: n[2], Dead: n[3]}, nil
}

// Dead lists the dead-lettered jobs, oldest first (at most WithDeadLimit).
// It is safe for concurrent use.
func (b *Broker) Dead(ctx context.Context) ([]broker.DeadJob, error) {
	raw, err := b.rdb.LRange(ctx, b.key("q:dead"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis broker: list dead jobs: %w", err)
	}
	out := make([]broker.DeadJob, 0, len(raw))
	for _, r := range raw {
		var d struct {
			ID       string `json:"id"`
			Kind     string `json:"kind"`
			Payload  string `json:"payload"`
			Max      int    `json:"max"`
			Attempts int    `json:"attempts"`
			Reason   string `json:"reason"`
			At       int64  `json:"at"`
			Trace    string `json:"trace"`
			Aff      string `json:"aff"`
		}
		if err := json.Unmarshal([]byte(r), &d); err != nil {
			return nil, fmt.Errorf("redis broker: decode dead job: %w", err)
		}
		job := broker.Job{ID: d.ID, Kind: d.Kind, MaxAttempts: d.Max, Affinity: d.Aff}
		if d.Payload != "" {
			job.Payload = json.RawMessage(d.Payload)
		}
		if d.Trace != "" {
			// A malformed trace context only loses the trace.
			_ = json.Unmarshal([]byte(d.Trace), &job.TraceContext)
		}
		out = append(out, broker.DeadJob{Job: job, Attempts: d.Attempts, Reason: d.Reason, At: time.UnixMilli(d.At)})
	}
	return out, nil
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
