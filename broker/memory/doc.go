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
