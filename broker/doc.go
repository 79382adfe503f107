// Package broker defines the Broker: a job queue plus one ordered event log per
// run, the two things that let API processes and workers cooperate on runs.
//
// # Jobs: at-least-once with leases
//
// A run is executed as a Job, enqueued under the run's ID. A worker Claims it
// and gets a Lease that lasts a ttl; while the work goes on, the worker Extends
// the lease (a heartbeat), and at the end it Acks the job, Fails it (retried
// with a backoff until Job.MaxAttempts deliveries are used up, then
// dead-lettered), or Releases it on a graceful shutdown (redelivered at once,
// not counted as an attempt). A worker that dies stops extending: its lease
// expires, the job is delivered to another worker with Attempt increased by
// one, and the dead worker's lease is refused with ErrLeaseLost from then on.
// Delivery is therefore at-least-once, and every step of a run is idempotent,
// keyed by run and step.
//
// Cancel removes a queued job, or flags a leased one: the holder learns it from
// Extend (ErrCanceled), stops, and Acks. The flag stays with the job until it is
// finished, so a redelivered job is canceled too.
//
// A Job may carry an Affinity key (a run's chat): with several worker
// processes, the Redis broker sends a key's jobs to the process that claimed
// the key last, while that process lives, so that a chat's runs find the
// chat's kernel warm rather than starting one in every process. It is a hint:
// a job whose process is gone, or waits too long there, is taken by another.
//
// # Events: one ordered log per run
//
// Every step of a run Appends an Event to the run's log; Append numbers them 1,
// 2, 3... without gaps. Read returns a range; Follow replays from a sequence
// number and then delivers new events as they come, so a client that connects
// late or reconnects after a drop resumes from the last Seq it saw and misses
// nothing; FollowFunc does the same with a callback run on the follower's own
// goroutine, for consumers that would otherwise spend a goroutine forwarding
// from the channel (the GraphQL subscription does). A Final event ends the
// log: followers are closed after it and further Appends fail. A finished log is kept for a retention period and then
// removed; the database holds the durable copy.
//
// # Implementations
//
//   - memory (package broker/memory): the embedded default, for one process.
//   - redis (package broker/redis): for many API and worker processes; jobs
//     through Lua scripts (a lease-based queue), events in one Redis stream
//     per run.
//
// Both pass the same conformance suite, brokertest.RunConformance.
package broker
