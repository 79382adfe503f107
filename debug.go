package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rs/zerolog"
)

// startDebug serves Go's profiles (net/http/pprof) on DEBUG_ADDR, apart
// from the API, when it is set. It returns a function that stops it.
func startDebug(cfg *config, log zerolog.Logger) (func(), error) {
	if cfg.DebugAddr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", cfg.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("configuration: DEBUG_ADDR: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Warn().Str("addr", ln.Addr().String()).Msg("profiling endpoint on: it shows the process's internals; keep it off public networks")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
