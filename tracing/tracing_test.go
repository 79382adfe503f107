package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestOffByDefault(t *testing.T) {
	for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		t.Setenv(k, "")
	}
	tp, shutdown, err := Setup(context.Background(), "test", "v0")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	if _, sdk := tp.(*sdktrace.TracerProvider); sdk {
		t.Fatal("Setup without OTEL_* variables returned an SDK provider")
	}
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	if span.SpanContext().IsValid() || span.IsRecording() {
		t.Fatal("a span of the default provider records")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	if Enabled(os.Getenv) {
		t.Error("OTEL_TRACES_EXPORTER=none is enabled")
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{map[string]string{"OTEL_SERVICE_NAME": "x"}, false},
	} {
		if got := Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("Enabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestSetupOTLP(t *testing.T) {
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tp, shutdown, err := Setup(context.Background(), "test", "v0")
	if err != nil {
		t.Fatal(err)
	}
	if _, sdk := tp.(*sdktrace.TracerProvider); !sdk {
		t.Fatalf("provider = %T, want the SDK's", tp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing to flush; do not wait for the unreachable collector
	shutdown(ctx)
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if _, _, err := Setup(context.Background(), "test", "v0"); err == nil {
		t.Error("OTEL_TRACES_EXPORTER=zipkin accepted")
	}
}

func TestInjectExtract(t *testing.T) {
	if m := Inject(context.Background()); m != nil {
		t.Errorf("Inject without a span = %v", m)
	}
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "x")
	m := Inject(ctx)
	if m["traceparent"] == "" {
		t.Fatalf("Inject = %v, want a traceparent", m)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), m))
	if got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() {
		t.Errorf("Extract = %+v, want %+v (remote)", got, span.SpanContext())
	}
	if Extract(context.Background(), nil) != context.Background() {
		t.Error("Extract(nil) changed the context")
	}
}

func TestFollowIncoming(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct {
		name, propagators, traceparent string
		want                           string // the trace id seen by the handler, or ""
	}{
		{"follows", "", parent, "0af7651916cd43dd8448eb211c80319c"},
		{"no header", "", "", ""},
		{"malformed", "", "00-zz-b7ad6b7169203331-01", ""},
		{"off", "none", parent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := FollowIncoming(func(string) string { return tc.propagators }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
					got = sc.TraceID().String()
				}
			}))
			req := httptest.NewRequest("POST", "/graphql", nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Errorf("trace id %q, want %q", got, tc.want)
			}
		})
	}
}
