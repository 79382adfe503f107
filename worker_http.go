package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/resolvers"
)

// startWorkerHTTP serves a worker's /livez and /readyz on HEALTH_ADDR
// (workers serve no API). It returns a function that stops it.
func startWorkerHTTP(cfg *config, log zerolog.Logger, ready func() bool, checks []resolvers.HealthCheck) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /livez", resolvers.Livez())
	mux.Handle("GET /readyz", resolvers.Readyz(ready, checks))
	ln, err := net.Listen("tcp", cfg.HealthAddr)
	if err != nil {
		return nil, fmt.Errorf("configuration: HEALTH_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           resolvers.AccessLog(log.With().Str("component", "health").Logger(), mux),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	log.Info().Str("addr", ln.Addr().String()).Msg("health endpoints on /livez and /readyz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
