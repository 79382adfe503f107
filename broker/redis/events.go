package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
)

// idleLogTTL is how long an unfinished log lives without an Append.
const idleLogTTL = 7 * 24 * time.Hour

// KEYS: stream, meta. ARGV: maxlen, retention ms, idle ms, then four per
// event: type, at, data, final (0/1; only the last event's may be 1).
// Returns the first event's seq, or -1 when the log is finished.
var appendScript = goredis.NewScript(`
if redis.call('HGET', KEYS[2], 'final') == '1' then return -1 end
local n = (#ARGV - 3) / 4
local last = redis.call('HINCRBY', KEYS[2], 'seq', n)
local first = last - n + 1
local final = '0'
for i = 0, n - 1 do
  local a = 4 + 4 * i
  final = ARGV[a + 3]
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], (first + i) .. '-0', 't', ARGV[a], 'a', ARGV[a + 1], 'd', ARGV[a + 2], 'f', final)
end
local ttl = ARGV[3]
if final == '1' then
  redis.call('HSET', KEYS[2], 'final', '1')
  ttl = ARGV[2]
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return first
`)

func (b *Broker) streamKey(runID string) string { return b.key("ev:" + runID) }

// KEYS: meta. ARGV: after, idle ms. Returns -1 when the log is finished.
var advanceScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'final') == '1' then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq')) or 0
local after = tonumber(ARGV[1])
if cur < after then
  redis.call('HSET', KEYS[1], 'seq', after, 'floor', after)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`)

// Last implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Last(ctx context.Context, runID string) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	s, err := b.rdb.XRevRangeN(ctx, b.streamKey(runID), "+", "-", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("redis broker: last event of run %s: %w", runID, err)
	}
	if len(s) == 0 {
		return 0, nil
	}
	seq, _, _ := strings.Cut(s[0].ID, "-")
	n, err := strconv.ParseInt(seq, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis broker: run %s: malformed event ID %q", runID, s[0].ID)
	}
	return n, nil
}

// Advance implements broker.EventLog: the log's counter moves to after, and
// its floor (which followers may pass over without reporting a gap) with it.
// It is safe for concurrent use.
func (b *Broker) Advance(ctx context.Context, runID string, after int64) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	n, err := advanceScript.Run(ctx, b.rdb, []string{b.key("evm:" + runID)}, after, idleLogTTL.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("redis broker: advance run %s: %w", runID, err)
	}
	if n < 0 {
		return fmt.Errorf("%w: run %s", broker.ErrLogFinished, runID)
	}
	return nil
}

// floor returns the Seq up to which a run's log may lack events (Advance).
func (b *Broker) floor(ctx context.Context, runID string) (int64, error) {
	v, err := b.rdb.HGet(ctx, b.key("evm:"+runID), "floor").Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return v, err
}

// Append implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Append(ctx context.Context, runID string, ev broker.Event) (int64, error) {
	return b.AppendBatch(ctx, runID, []broker.Event{ev})
}

// AppendBatch implements broker.EventLog with one script call: one round
// trip for the whole batch, atomic in Redis (the Final check included). It
// is safe for concurrent use.
func (b *Broker) AppendBatch(ctx context.Context, runID string, evs []broker.Event) (int64, error) {
	if err := b.check(ctx); err != nil {
		return 0, err
	}
	if err := broker.FinalInside(runID, evs); err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 3+4*len(evs))
	args = append(args, b.cfg.maxLen, b.cfg.logRetention.Milliseconds(), idleLogTTL.Milliseconds())
	now := time.Now()
	for _, ev := range evs {
		if ev.At.IsZero() {
			ev.At = now
		}
		final := "0"
		if ev.Final {
			final = "1"
		}
		args = append(args, ev.Type, ev.At.UTC().Format(time.RFC3339Nano), string(ev.Data), final)
	}
	first, err := appendScript.Run(ctx, b.rdb, []string{b.streamKey(runID), b.key("evm:" + runID)}, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis broker: append to run %s: %w", runID, err)
	}
	if first < 0 {
		return 0, fmt.Errorf("%w: run %s", broker.ErrLogFinished, runID)
	}
	return first, nil
}

// Read implements broker.EventLog. It is safe for concurrent use.
func (b *Broker) Read(ctx context.Context, runID string, after int64, limit int) ([]broker.Event, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	return b.rangeFrom(ctx, runID, max(after, 0)+1, "+", limit)
}

// rangeFrom reads the events from seq first to end ("+" or "<seq>-0").
func (b *Broker) rangeFrom(ctx context.Context, runID string, first int64, end string, limit int) ([]broker.Event, error) {
	var msgs []goredis.XMessage
	var err error
	start := strconv.FormatInt(first, 10) + "-0"
	if limit > 0 {
		msgs, err = b.rdb.XRangeN(ctx, b.streamKey(runID), start, end, int64(limit)).Result()
	} else {
		msgs, err = b.rdb.XRange(ctx, b.streamKey(runID), start, end).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("redis broker: read run %s: %w", runID, err)
	}
	return decodeMessages(msgs)
}

func decodeMessages(msgs []goredis.XMessage) ([]broker.Event, error) {
	evs := make([]broker.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := decodeMessage(m)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func decodeMessage(m goredis.XMessage) (broker.Event, error) {
	seqText, _, _ := strings.Cut(m.ID, "-")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil {
		return broker.Event{}, fmt.Errorf("redis broker: event ID %q: %w", m.ID, err)
	}
	ev := broker.Event{Seq: seq}
	ev.Type, _ = m.Values["t"].(string)
	if at, ok := m.Values["a"].(string); ok {
		ev.At, _ = time.Parse(time.RFC3339Nano, at)
	}
	if d, ok := m.Values["d"].(string); ok && d != "" {
		ev.Data = json.RawMessage(d)
	}
	ev.Final = m.Values["f"] == "1"
	return ev, nil
}

// Follow implements broker.EventLog. The follower is fed by the Broker's one
// reader; when its consumer falls more than WithFollowerQueue events behind,
// it is closed and Err returns ErrFollowerTooSlow. It is safe for concurrent
// use.
func (b *Broker) Follow(ctx context.Context, runID string, after int64) (*broker.Subscription, error) {
	out := make(chan broker.Event)
	send := func(ev broker.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	done := func(error) { close(out) }
	f, err := b.follow(ctx, runID, after, send, done)
	if err != nil {
		return nil, err
	}
	return broker.NewSubscription(out, f.errFunc), nil
}

// FollowFunc implements broker.EventLog, on the Broker's one reader like
// Follow. It is safe for concurrent use.
func (b *Broker) FollowFunc(ctx context.Context, runID string, after int64, fn func(broker.Event) bool, done func(error)) error {
	_, err := b.follow(ctx, runID, after, fn, func(err error) { done(err) })
	return err
}

func (b *Broker) follow(ctx context.Context, runID string, after int64, fn func(broker.Event) bool, done func(error)) (*follower, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	after = max(after, 0)
	f := &follower{b: b, ctx: ctx, run: runID, limit: b.cfg.followerQueue, fn: fn, done: done, next: after + 1}
	if err := b.reader.add(ctx, f, after); err != nil {
		return nil, err
	}
	return f, nil
}

// fill reads events first..last (last < 0: to the end) for a follower,
// retrying while Redis is unreachable. It fails only when the follower's ctx
// ends (nil events) or the broker closes.
func (b *Broker) fill(ctx context.Context, f *follower, first, last int64) ([]broker.Event, error) {
	end := "+"
	if last >= 0 {
		end = strconv.FormatInt(last, 10) + "-0"
	}
	backoff := 50 * time.Millisecond
	for {
		evs, err := b.rangeFrom(ctx, f.run, first, end, 0)
		if err == nil {
			return evs, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if cerr := b.check(ctx); cerr != nil {
			return nil, cerr
		}
		b.cfg.logf("redis broker: follow run %s: %v (retrying in %s)", f.run, err, backoff)
		if !sleep(ctx, backoff) {
			return nil, nil
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}
