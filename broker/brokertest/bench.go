package brokertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/broker"
)

// BenchmarkRuns measures trivial runs per second through a broker: a
// producer enqueues jobs, and workers claim each, append the events of a
// trivial run (RUN_STARTED, EXECUTION_RESULT, RUN_SUCCEEDED: the last one
// Final) and ack it. Each "process" is a broker of its own from newBroker
// (for Redis: its own client and connection pool) with workersPerProcess
// workers; processes share the jobs as separate processes would. It reports
// runs/s. newBroker must return brokers that share their jobs and logs (for
// Redis: the same key prefix) and are closed by the benchmark's cleanup.
func BenchmarkRuns(b *testing.B, processes, workersPerProcess int, newBroker func(b *testing.B) broker.Broker) {
	producer := newBroker(b)
	var procs []broker.Broker
	for range processes {
		procs = append(procs, newBroker(b))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, p := range procs {
		for range workersPerProcess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					l, err := p.Claim(ctx, 30*time.Second)
					if err != nil {
						if ctx.Err() == nil {
							select {
							case errs <- err:
							default:
							}
						}
						return
					}
					for _, ev := range []broker.Event{{Type: "RUN_STARTED"}, {Type: "EXECUTION_RESULT", Data: []byte(`{"ok":true}`)}, {Type: "RUN_SUCCEEDED", Final: true}} {
						if _, err := p.Append(ctx, l.Job.ID, ev); err != nil {
							select {
							case errs <- err:
							default:
							}
							return
						}
					}
					if err := p.Ack(ctx, l); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
					done.Add(1)
				}
			}()
		}
	}
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := producer.Enqueue(ctx, broker.Job{ID: fmt.Sprintf("%s%d", prefix, n), Kind: "bench"}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for done.Load() < int64(n) {
		select {
		case err := <-errs:
			b.Fatal(err)
		case <-time.After(time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "runs/s")
	cancel()
	wg.Wait()
}
