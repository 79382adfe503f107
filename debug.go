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
	addr, stop, err := serveOn("DEBUG_ADDR", cfg.DebugAddr, mux)
	if err != nil {
		return nil, err
	}
	log.Warn().Str("addr", addr.String()).Msg("profiling endpoint on: it shows the process's internals; keep it off public networks")
	return stop, nil
}

// serveOn serves h in the background on addr, the value of the setting
// named setting (for the error). It returns the address it listens on and
// the function that stops it, waiting a second at most for its requests.
func serveOn(setting, addr string, h http.Handler) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: %s: %w", setting, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
