// Package redis is the Redis implementation of broker.Broker, for many API
// and worker processes: every process that shares a Redis server (and a key
// prefix) shares the jobs and the run event logs.
//
// # Jobs
//
// Jobs are built on go-redis directly, with Lua scripts that make each
// operation atomic, rather than on asynq: the broker's Queue is pull-based
// (Claim, then Extend, Ack, Fail or Release with a lease token), and asynq's
// handler model hides the lease, so it could not tell a stale holder
// ErrLeaseLost nor hand a job back without counting an attempt. Lease expiry
// and retry times use the Redis server's clock, so processes with skewed
// clocks agree. Keys, under the prefix P:
//
//	P q:ready      list of job IDs, claimed from the head (FIFO)
//	P q:leased     sorted set: job ID -> lease expiry (ms)
//	P q:retry      sorted set: job ID -> time it becomes claimable (ms)
//	P q:job:<id>   hash: kind, payload, max attempts, deliveries, token, state, cancel flag
//	P q:dead       list of dead-lettered jobs (JSON), capped by WithDeadLimit
//	P q:wake       list pushed when a job becomes claimable; idle Claims block on it
//	P q:owners     set of the IDs of the processes that claim jobs (owners)
//	P q:owner:<o>:alive  liveness of owner o, expires WithLiveness after its last heartbeat
//	P q:owner:<o>:ready  list of job IDs sent to owner o by affinity, claimed from the head
//	P q:owner:<o>:wake   list pushed when a job is sent to o; o's idle Claims block on it too
//	P q:aff:<key>  owner of an affinity key, expires WithAffinityTTL after its last claim
//
// # Affinity
//
// A broker that claims jobs is an owner: from its first Claim it refreshes
// its liveness key every third of WithLiveness, until Close. Claiming a job
// with an Affinity key (a run's chat) makes the claimer the key's owner;
// Enqueue sends a job whose key has a live owner to that owner's list and
// wakes it, and any other job to the shared list. Claim takes the older
// (by enqueue time) of the heads of its own list and of the shared list. Nothing is stranded there: Close
// hands the list back to the head of the shared list, every Claim hands back
// the lists of owners whose liveness expired (a crashed process), and an idle
// Claim takes the head of a live owner's list that waited longer than
// WithStealAfter (a busy process), becoming the key's owner. Leases that
// expire, retries and released jobs go to the shared list, as before.
//
// An expired lease is taken back by the next Claim on any process: the job is
// delivered again with Attempt increased by one, or dead-lettered when it has
// used up its attempts. A cancellation flag stays in the job's hash until the
// job is acked or dead-lettered, so a redelivered job is cancelled too.
//
// # Event logs
//
// Each run's events live in their own stream, P ev:<run>, whose entry IDs are
// "<seq>-0", so that reading from a sequence number is an XRANGE; a hash,
// P evm:<run>, holds the last sequence number and whether the log is finished.
// Appends trim the stream to about WithMaxLen entries (MAXLEN ~). After the
// Final event both keys expire after WithLogRetention; a log that never
// finishes expires after a week without appends.
//
// Follow never costs a Redis connection per follower: one reader goroutine per
// Broker reads every followed stream with one multi-key XREAD BLOCK on a
// connection of its own and fans the events out in memory, through a bounded
// queue per follower. A follower whose consumer stops reading is closed with
// ErrFollowerTooSlow once its queue is full (it may Follow again from the last
// Seq it received); it never slows the reader or Append down. A follower
// that misses events (it joined a run the reader was already ahead on, or its
// own replay raced the reader) fills the gap with XRANGE, so what it delivers
// is in order, without gaps or duplicates.
//
// When Redis cannot be reached, Claim and the reader retry with a backoff and
// carry on by themselves once it is back.
package redis
