package httpapi

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/requestid"
)

// maxOperationName bounds the operation name on an access log line (a
// client chooses it).
const maxOperationName = 64

// requestInfo is what the GraphQL handler learns of a request and the
// access log reports: the operation's name and the signed-in user. The
// middleware puts it in the request's context; the operationRecorder
// extension fills it in.
type requestInfo struct {
	mu        sync.Mutex
	operation string
	userID    string
	traceID   string // of the first traced operation
}

func (ri *requestInfo) trace() string {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.traceID
}

type requestInfoKey struct{}

func (ri *requestInfo) get() (op, user string) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.operation, ri.userID
}

// AccessLog gives every request an id (the client's X-Request-ID when it is
// valid, else a new one), returns it in the response's X-Request-ID, puts it
// and a logger naming it in the request's context (zerolog.Ctx), and logs
// one line per request when it ends: method, path, operation, status,
// duration_ms, bytes, user_id, request_id, and trace_id when an operation
// was traced. Health probes log at debug level,
// the rest at info.
func AccessLog(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestid.From(r.Header.Get(requestid.Header))
		w.Header().Set(requestid.Header, id)
		rlog := log.With().Str("request_id", id).Logger()
		info := &requestInfo{}
		ctx := rlog.WithContext(requestid.NewContext(r.Context(), id))
		ctx = context.WithValue(ctx, requestInfoKey{}, info)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))

		ev := rlog.Info()
		switch r.URL.Path {
		case "/livez", "/readyz", "/healthz":
			ev = rlog.Debug()
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		op, user := info.get()
		if op != "" {
			ev = ev.Str("operation", op)
		}
		if user != "" {
			ev = ev.Str("user_id", user)
		}
		if tid := info.trace(); tid != "" {
			ev = ev.Str("trace_id", tid)
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Int64("bytes", rec.bytes).Msg("request")
	})
}

// recorder notes a response's status and size. It lets SSE flush and
// WebSockets hijack the connection.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// operationRecorder is a gqlgen extension that records each operation's name
// and viewer into the request's requestInfo, for the access log.
type operationRecorder struct{}

var (
	_ graphql.HandlerExtension     = operationRecorder{}
	_ graphql.OperationInterceptor = operationRecorder{}
)

func (operationRecorder) ExtensionName() string                   { return "OperationRecorder" }
func (operationRecorder) Validate(graphql.ExecutableSchema) error { return nil }
func (operationRecorder) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		name := ""
		if oc := graphql.GetOperationContext(ctx); oc != nil {
			name = oc.OperationName
			if name == "" && oc.Operation != nil {
				name = oc.Operation.Name
			}
		}
		if len(name) > maxOperationName {
			name = name[:maxOperationName]
		}
		info.mu.Lock()
		if name != "" {
			info.operation = name
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && info.traceID == "" {
			info.traceID = sc.TraceID().String()
		}
		if v := viewer.FromContext(ctx); v != nil && v.UserID != "" {
			info.userID = v.UserID
		}
		info.mu.Unlock()
	}
	return next(ctx)
}

// logFor is the request's logger (naming its request id) when ctx carries
// one, else fallback.
func logFor(ctx context.Context, fallback zerolog.Logger) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled && l != zerolog.DefaultContextLogger {
		return l
	}
	return &fallback
}
