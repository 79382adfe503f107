package graphws

import (
	"context"
	"sync"
	"time"
)

// DefaultShutdownGrace is how long a connection may keep running
// operations once its Transport's Shutdown began.
const DefaultShutdownGrace = 5 * time.Second

// Shutdown ends the connections of the Transports that share it, for a
// server that stops: net/http's Server.Shutdown does not close hijacked
// connections. Once Close is called, a connection takes no new operation,
// lets the running ones end for Grace (a subscription to a run that has
// finished still delivers its last events), then closes with 1001 (going
// away), so that clients reconnect, to another server. It is safe for
// concurrent use.
type Shutdown struct {
	// Grace bounds how long running operations may go on after Close
	// (DefaultShutdownGrace when zero).
	Grace time.Duration

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	conns  sync.WaitGroup
}

func (s *Shutdown) init() {
	s.once.Do(func() { s.ctx, s.cancel = context.WithCancel(context.Background()) })
}

// done is closed when Close begins.
func (s *Shutdown) done() context.Context {
	s.init()
	return s.ctx
}

func (s *Shutdown) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return DefaultShutdownGrace
}

// Close begins the shutdown and waits until every connection has closed, or
// ctx ends (then it returns ctx's error; connections still close by
// themselves after Grace).
func (s *Shutdown) Close(ctx context.Context) error {
	s.init()
	s.cancel()
	closed := make(chan struct{})
	go func() { s.conns.Wait(); close(closed) }()
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
