package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/requestid"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestRequestID: a valid client id is kept; a missing, too long or unsafe
// one is replaced by a generated id. Either way the response, the
// request's context and its logger carry it.
func TestRequestID(t *testing.T) {
	tests := []struct {
		name, in string
		kept     bool
	}{
		{"absent", "", false},
		{"valid", "abc-123_X.y", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"space", "abc def", false},
		{"newline", "abc\ndef", false},
		{"quote", `abc"def`, false},
		{"unicode", "abcé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			var ctxID string
			var ctxLogged bytes.Buffer
			h := AccessLog(zerolog.New(&logs), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxID = requestid.FromContext(r.Context())
				l := zerolog.Ctx(r.Context()).Output(&ctxLogged)
				l.Info().Msg("inside")
			}))
			req := httptest.NewRequest("GET", "/x", nil)
			if tt.in != "" {
				req.Header.Set(requestid.Header, tt.in)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(requestid.Header)
			if tt.kept && got != tt.in {
				t.Fatalf("id %q, want the client's %q", got, tt.in)
			}
			if !tt.kept && !generatedID.MatchString(got) {
				t.Fatalf("id %q, want a generated one", got)
			}
			if ctxID != got {
				t.Fatalf("context id %q, header %q", ctxID, got)
			}
			if !strings.Contains(ctxLogged.String(), `"request_id":"`+got+`"`) {
				t.Fatalf("the context's logger does not name the id: %s", ctxLogged.String())
			}
			if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
				t.Fatalf("the access log does not name the id: %s", logs.String())
			}
		})
	}
}

// TestAccessLog: one line per request with its method, path, operation,
// status, duration, bytes and user; health probes at debug level.
func TestAccessLog(t *testing.T) {
	tests := []struct {
		name, method, path string
		op, user           string
		status             int
		body               string
		level              string
	}{
		{"query", "POST", "/graphql", "Viewer", "u1", 0, `{"data":{}}`, "info"},
		{"refused", "POST", "/graphql", "", "", 429, `{"errors":[]}`, "info"},
		{"long operation name", "POST", "/graphql", strings.Repeat("A", 100), "", 200, "{}", "info"},
		{"no body", "GET", "/missing", "", "", 404, "", "info"},
		{"probe", "GET", "/readyz", "", "", 503, `{"status":"unavailable"}`, "debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := AccessLog(zerolog.New(&logs), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctx := r.Context()
				if tt.user != "" {
					ctx = viewer.NewContext(ctx, &viewer.Viewer{UserID: tt.user})
				}
				if tt.op != "" {
					ctx = graphql.WithOperationContext(ctx, &graphql.OperationContext{OperationName: tt.op, Operation: &ast.OperationDefinition{}})
					operationRecorder{}.InterceptOperation(ctx, func(context.Context) graphql.ResponseHandler { return nil })
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				w.Write([]byte(tt.body))
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("%v: %s", err, logs.String())
			}
			want := tt.status
			if want == 0 {
				want = 200
			}
			op := tt.op
			if len(op) > maxOperationName {
				op = op[:maxOperationName]
			}
			if line["level"] != tt.level || line["method"] != tt.method || line["path"] != tt.path ||
				line["status"] != float64(want) || line["bytes"] != float64(len(tt.body)) || line["message"] != "request" {
				t.Fatalf("line %v", line)
			}
			if got, _ := line["operation"].(string); got != op {
				t.Fatalf("operation %q, want %q", got, op)
			}
			if got, _ := line["user_id"].(string); got != tt.user {
				t.Fatalf("user_id %q, want %q", got, tt.user)
			}
			if _, ok := line["duration_ms"].(float64); !ok {
				t.Fatalf("no duration_ms: %v", line)
			}
		})
	}
}

// TestReadyz names what is down, and answers 503 while draining.
func TestReadyz(t *testing.T) {
	ok := HealthCheck{Name: "database", Check: func(context.Context) error { return nil }}
	down := HealthCheck{Name: "sandbox", Check: func(context.Context) error { return context.DeadlineExceeded }}
	tests := []struct {
		name     string
		draining bool
		checks   []HealthCheck
		status   int
		want     string
	}{
		{"ready", false, []HealthCheck{ok}, 200, `{"status":"ok","checks":{"database":"ok"}}`},
		{"down", false, []HealthCheck{ok, down}, 503, `{"status":"unavailable","checks":{"database":"ok","sandbox":"down: context deadline exceeded"}}`},
		{"draining", true, []HealthCheck{ok}, 503, `{"status":"unavailable","checks":{"database":"ok","server":"draining"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Readyz(func() bool { return !tt.draining }, tt.checks).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.want {
				t.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		})
	}
	rec := httptest.NewRecorder()
	Livez().ServeHTTP(rec, httptest.NewRequest("GET", "/livez", nil))
	if rec.Code != 200 {
		t.Fatalf("livez %d", rec.Code)
	}
}
