package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

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

// startMetricsServer serves /metrics (and, with ping, /healthz: 503 while
// draining or when ping fails) on addr, apart from the API; it returns the
// function that stops it. An empty addr serves nothing.
func startMetricsServer(addr string, m *metrics.Metrics, ready func() bool, ping func(context.Context) error, log zerolog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if ping != nil {
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
			defer cancel()
			switch {
			case ready != nil && !ready():
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, `{"status":"draining"}`)
			case ping(ctx) != nil:
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, `{"status":"database unreachable"}`)
			default:
				fmt.Fprintln(w, `{"status":"ok"}`)
			}
		})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("configuration: METRICS_ADDR: %w", err)
	}
	srv := &http.Server{Handler: m.InstrumentHTTP(mux), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info().Str("addr", ln.Addr().String()).Msg("metrics endpoint on /metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
