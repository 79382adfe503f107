package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Affinity: a process that claims jobs is an owner, with a random ID and a
// liveness key it refreshes (the heartbeat). Claiming a job with an
// Affinity key makes the claimer the key's owner for WithAffinityTTL;
// Enqueue sends a job whose key has a live owner to that owner's list
// instead of the shared one. The claim script hands the lists of owners
// that are no longer alive back to the shared list, and lets an idle
// process take the head of a live owner's list that waited longer than
// WithStealAfter. See the package documentation for the keys.

// WithAffinityTTL sets how long a process stays the owner of an affinity key
// after it claimed the key's last job (default DefaultAffinityTTL): set it
// to about the kernel idle timeout. Zero or negative turns affinity off for
// the jobs this broker claims: they record no owner.
func WithAffinityTTL(d time.Duration) Option {
	return func(c *config) { c.affinityTTL = max(d, 0) }
}

// WithLiveness sets how long a claiming process is taken for alive after its
// last heartbeat (default DefaultLiveness; at least 30ms). The jobs sent to a
// process that stopped beating (it crashed) go back to the shared queue
// after about that long. Every process of a deployment should use the same
// value.
func WithLiveness(d time.Duration) Option {
	return func(c *config) { c.liveness = max(d, 30*time.Millisecond) }
}

// WithStealAfter sets how long a job sent to a live process by affinity may
// wait at the head of its list before an idle process of the same queue
// takes it (default DefaultStealAfter; zero: at once).
func WithStealAfter(d time.Duration) Option {
	return func(c *config) { c.stealAfter = max(d, 0) }
}

// Owner returns the broker's ID among the processes that claim jobs: the
// owner of the affinity keys it claims. It is safe for concurrent use.
func (b *Broker) Owner() string { return b.owner }

func (b *Broker) ownerKey(owner, what string) string {
	return b.key("q:owner:" + owner + ":" + what)
}

// KEYS: alive, owners. ARGV: owner, liveness ms.
var beatScript = goredis.NewScript(`
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`)

// KEYS: own ready, shared ready, alive, owners, own wake, shared wake.
// ARGV: owner. Hands the owner's list back to the head of the shared list,
// in order, and forgets the owner. Returns how many jobs moved.
var retireScript = goredis.NewScript(`
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do n = n + 1 end
redis.call('DEL', KEYS[3], KEYS[5])
redis.call('SREM', KEYS[4], ARGV[1])
for i = 1, math.min(n, 64) do redis.call('RPUSH', KEYS[6], 1) end
redis.call('LTRIM', KEYS[6], -64, -1)
return n
`)

// KEYS: ready, leased, retry, dead, owners. ARGV: queue key prefix.
// Returns {ready (shared and owners' lists), leased, retrying, dead}.
var statsScript = goredis.NewScript(`
local ready = redis.call('LLEN', KEYS[1])
for _, o in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  ready = ready + redis.call('LLEN', ARGV[1] .. 'owner:' .. o .. ':ready')
end
return {ready, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4])}
`)

// startHeartbeat makes the broker an owner, at its first Claim: a broker
// that never claims (an API node's) is never sent jobs.
func (b *Broker) startHeartbeat() {
	b.beatOnce.Do(func() {
		b.beating = true
		go b.heartbeat()
	})
}

// heartbeat refreshes the liveness key every third of WithLiveness until
// Close.
func (b *Broker) heartbeat() {
	defer close(b.beatsDone)
	every := b.cfg.liveness / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(b.stopCtx, every)
		err := beatScript.Run(ctx, b.rdb, []string{b.ownerKey(b.owner, "alive"), b.key("q:owners")},
			b.owner, b.cfg.liveness.Milliseconds()).Err()
		cancel()
		if err != nil && b.stopCtx.Err() == nil {
			b.cfg.logf("redis broker: heartbeat: %v", err)
		}
		select {
		case <-b.stopCtx.Done():
			return
		case <-t.C:
		}
	}
}

// retire is Close's: the jobs sent to this process go back to the shared
// list, and it is no longer an owner.
func (b *Broker) retire() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := retireScript.Run(ctx, b.rdb, []string{b.ownerKey(b.owner, "ready"), b.key("q:ready"),
		b.ownerKey(b.owner, "alive"), b.key("q:owners"), b.ownerKey(b.owner, "wake"), b.key("q:wake")}, b.owner).Err()
	if err != nil {
		b.cfg.logf("redis broker: close: hand the jobs sent to this process back: %v (they go back once its liveness expires)", err)
	}
}
