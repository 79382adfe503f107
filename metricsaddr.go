package main

import (
	"context"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// watchQueue makes every scrape of m count brk's jobs (the same counts as
// `autoanalyst queues`), for the Redis and the in-memory broker alike.
func watchQueue(m *metrics.Metrics, brk broker.Broker) {
	m.WatchQueue(func(ctx context.Context) (metrics.QueueCounts, error) {
		st, err := brk.Stats(ctx)
		return metrics.QueueCounts{Ready: st.Ready, Leased: st.Leased, Retrying: st.Retrying, Dead: st.Dead}, err
	})
}

// startMetricsServer serves an API node's /metrics on addr (METRICS_ADDR),
// apart from the API port, so that it can be kept off the load balancer;
// it returns the function that stops it. An empty addr serves nothing.
// Workers serve theirs with their health endpoints (worker_http.go).
func startMetricsServer(addr string, m *metrics.Metrics, log zerolog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	at, stop, err := serveOn("METRICS_ADDR", addr, m.InstrumentHTTP(mux))
	if err != nil {
		return nil, err
	}
	log.Info().Str("addr", at.String()).Msg("metrics endpoint on /metrics")
	return stop, nil
}
