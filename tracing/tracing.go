// Package tracing sets up OpenTelemetry traces from the standard OTEL_*
// environment variables, and carries a trace's context through a
// map[string]string (a broker job) with W3C tracecontext.
//
// Tracing is off by default: Setup returns a no-op TracerProvider unless
// OTEL_TRACES_EXPORTER names an exporter ("otlp") or an OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set.
// Spans are exported with OTLP over HTTP (protobuf); the exporter reads the
// other OTEL_EXPORTER_OTLP_* variables (headers, timeout, ...), the SDK reads
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER(_ARG).
//
// Components take a trace.TracerProvider; nil means no-op (Provider).
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Instrumentation is the name of this program's tracers.
const Instrumentation = "github.com/autoanalyst/autoanalyst"

// Enabled reports whether the OTEL_* variables in getenv ask for traces.
func Enabled(getenv func(string) string) bool {
	switch exp := strings.TrimSpace(strings.ToLower(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	default:
		return true
	}
}

// Setup returns the TracerProvider configured by the OTEL_* variables (a
// no-op one when tracing is off) and a shutdown function that flushes the
// spans not yet exported. serviceName and version describe the service
// unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
func Setup(ctx context.Context, serviceName, version string) (trace.TracerProvider, func(context.Context) error, error) {
	noShutdown := func(context.Context) error { return nil }
	if !Enabled(os.Getenv) {
		return noop.NewTracerProvider(), noShutdown, nil
	}
	if exp := strings.TrimSpace(strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER"))); exp != "" && exp != "otlp" {
		return nil, nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp (or none) is supported", exp)
	}
	if p := os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: only http/protobuf is supported", p)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	// The env detector (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) comes
	// last, so that it overrides the defaults given here.
	// The process's pid and host name tell an API node's spans from a
	// worker's in one trace.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(serviceName), semconv.ServiceVersion(version)),
		resource.WithProcessPID(), resource.WithHost(),
		resource.WithFromEnv(),
	)
	if err != nil {
		res = resource.Environment()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	return tp, tp.Shutdown, nil
}

// Provider returns tp, or a no-op provider when tp is nil.
func Provider(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// Tracer is Provider(tp)'s tracer of this program.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	return Provider(tp).Tracer(Instrumentation)
}

var propagator = propagation.TraceContext{}

// FollowIncoming returns a handler that continues the W3C trace context a
// request carries (its traceparent and tracestate headers), so that a
// client's or a gateway's trace goes on through this service; with no such
// headers the request starts a trace of its own. getenv("OTEL_PROPAGATORS")
// set to "none" turns it off: next is returned as is.
func FollowIncoming(getenv func(string) string, next http.Handler) http.Handler {
	if strings.TrimSpace(strings.ToLower(getenv("OTEL_PROPAGATORS"))) == "none" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("traceparent") == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Inject returns the W3C trace context of ctx's span as a map (traceparent,
// tracestate), or nil when ctx has no valid span.
func Inject(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Extract returns ctx with the remote span context carried in m (see
// Inject); ctx is returned unchanged when m carries none.
func Extract(ctx context.Context, m map[string]string) context.Context {
	if len(m) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(m))
}

// LogContext adds the trace_id and span_id of sc to a logger's context
// when sc is valid.
func LogContext(c zerolog.Context, sc trace.SpanContext) zerolog.Context {
	if !sc.IsValid() {
		return c
	}
	return c.Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String())
}
