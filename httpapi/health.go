package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// HealthCheck is one dependency /readyz checks: the database, Redis, the
// sandbox. Check returns nil when it is usable.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readiness is /readyz's body: {"status":"ok","checks":{"database":"ok"}},
// or "unavailable" (503) with what is down ("down: …") or "draining".
type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Livez answers 200 while the process serves HTTP.
func Livez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
}

// Readyz answers 200 when ready reports true (or is nil) and every check
// passes, else 503; the body names each check's state. The checks run
// concurrently, each for at most 2 s.
func Readyz(ready func() bool, checks []HealthCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := readiness{Status: "ok", Checks: make(map[string]string, len(checks)+1)}
		if ready != nil && !ready() {
			body.Status = "unavailable"
			body.Checks["server"] = "draining"
		}
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				state := "ok"
				if err := c.Check(ctx); err != nil {
					state = "down: " + err.Error()
				}
				mu.Lock()
				defer mu.Unlock()
				body.Checks[c.Name] = state
				if state != "ok" {
					body.Status = "unavailable"
				}
			}()
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if body.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
}
