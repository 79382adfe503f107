package orchestrator

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// okExecutor runs every program successfully.
type okExecutor struct{}

func (okExecutor) Execute(context.Context, executor.Request) (*executor.Result, error) {
	return &executor.Result{OK: true, Stdout: "fixed\n"}, nil
}

// TestRunTrace: a FIX_CODE run through the memory broker and a worker in
// process is one trace: the request's span, its enqueue, the worker's run
// span (from the trace context in the job), the LLM call and the
// execution, each the child of the one before.
func TestRunTrace(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	brk := memory.New()
	t.Cleanup(func() { brk.Close() })
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	p := llm.NewScripted("Fixed.\n```python\nprint('fixed')\n```")
	s, err := New(Config{
		DB: db, Broker: brk, Files: noFiles{}, Logger: zerolog.Nop(), Executor: okExecutor{},
		Models: modelsFunc(func(context.Context, string) (*modelsetting.Choice, error) {
			return &modelsetting.Choice{Provider: p, Model: "gpt-4o-mini"}, nil
		}),
		TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	actx := viewer.NewContext(ctx, &viewer.Viewer{UserID: alice.ID})
	c, err := db.Chat.Create().SetUserID(alice.ID).Save(actx)
	if err != nil {
		t.Fatal(err)
	}
	rctx, req := tp.Tracer("test").Start(actx, "graphql.mutation FixCode")
	r, err := s.FixCode(rctx, c.ID, "print(x)", "NameError: name 'x' is not defined")
	req.End()
	if err != nil {
		t.Fatal(err)
	}
	w := s.StartWorkers(1)
	defer w.Stop(ctx)
	s.waitEnd(actx, r.ID, 10*time.Second)
	if rr, _ := db.Run.Get(actx, r.ID); rr.Status != run.StatusSUCCEEDED {
		t.Fatalf("run = %s (%v)", rr.Status, rr.Error)
	}
	w.Stop(ctx) // the run's span has ended

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range spans.Ended() {
		if sp.SpanContext().TraceID() != req.SpanContext().TraceID() {
			t.Errorf("span %q is in trace %s, want the request's %s", sp.Name(), sp.SpanContext().TraceID(), req.SpanContext().TraceID())
		}
		byName[sp.Name()] = sp
	}
	parent := req.SpanContext().SpanID()
	for _, name := range []string{"run.enqueue", "run", "llm.generate", "execution"} {
		sp, ok := byName[name]
		if !ok {
			t.Fatalf("no span %q among %v", name, names(spans.Ended()))
		}
		want := parent
		if name == "run" {
			want = byName["run.enqueue"].SpanContext().SpanID()
		}
		if name == "execution" || name == "llm.generate" {
			want = byName["run"].SpanContext().SpanID()
		}
		if sp.Parent().SpanID() != want {
			t.Errorf("span %q has parent %s, want %s", name, sp.Parent().SpanID(), want)
		}
		if name == "run" {
			parent = sp.SpanContext().SpanID()
		}
	}
	attrs := func(name string) map[string]string {
		m := map[string]string{}
		for _, kv := range byName[name].Attributes() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	if a := attrs("run"); a["run.kind"] != "FIX_CODE" || a["run.attempt"] != "1" || a["run.id"] != r.ID {
		t.Errorf("run span attributes = %v", a)
	}
	if a := attrs("llm.generate"); a["llm.provider"] == "" || a["llm.step"] != "code_fix" || a["llm.attempts"] == "" {
		t.Errorf("llm span attributes = %v", a)
	}
	if a := attrs("execution"); a["execution.outcome"] != "ok" || a["execution.duration_ms"] == "" {
		t.Errorf("execution span attributes = %v", a)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
