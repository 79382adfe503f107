package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/httpapi"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// startWorkerHTTP serves a worker's /livez, /readyz, /healthz and /metrics
// (workers serve no API) on HEALTH_ADDR, and on METRICS_ADDR too when that
// is set to another address. It returns a function that stops them.
func startWorkerHTTP(cfg *config, log zerolog.Logger, m *metrics.Metrics, ready func() bool, checks []httpapi.HealthCheck) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /livez", httpapi.Livez())
	mux.Handle("GET /readyz", httpapi.Readyz(ready, checks))
	mux.Handle("GET /healthz", httpapi.Readyz(ready, checks))
	mux.Handle("GET /metrics", m.Handler())
	handler := httpapi.AccessLog(log.With().Str("component", "health").Logger(), m.InstrumentHTTP(mux))
	var servers []*http.Server
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.Shutdown(ctx)
		}
	}
	for _, a := range []struct{ name, addr string }{{"HEALTH_ADDR", cfg.HealthAddr}, {"METRICS_ADDR", cfg.MetricsAddr}} {
		if a.addr == "" || (a.name == "METRICS_ADDR" && a.addr == cfg.HealthAddr) {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("configuration: %s: %w", a.name, err)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln)
		log.Info().Str("addr", ln.Addr().String()).Str("setting", a.name).Msg("health and metrics on /livez, /readyz, /healthz and /metrics")
	}
	return stop, nil
}
