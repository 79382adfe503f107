package httpapi

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/tracing"
)

// operationTracer is a gqlgen extension that starts a span per operation,
// "graphql.<type> <name>", with the operation's type and name as
// attributes (never its variables). The span lasts until the operation's
// last response (a subscription's end). The request's logger in the
// context (zerolog.Ctx) gets the span's trace_id and span_id, so that the
// operation's log lines, and the runs it enqueues, name its trace.
type operationTracer struct{ tracer trace.Tracer }

var (
	_ graphql.HandlerExtension     = operationTracer{}
	_ graphql.OperationInterceptor = operationTracer{}
)

func (operationTracer) ExtensionName() string                   { return "OperationTracer" }
func (operationTracer) Validate(graphql.ExecutableSchema) error { return nil }
func (e operationTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	typ, name := "unknown", ""
	subscription := false
	if oc := graphql.GetOperationContext(ctx); oc != nil {
		name = oc.OperationName
		if oc.Operation != nil {
			typ = string(oc.Operation.Operation)
			subscription = typ == "subscription"
			if name == "" {
				name = oc.Operation.Name
			}
		}
	}
	if len(name) > maxOperationName {
		name = name[:maxOperationName]
	}
	spanName := "graphql." + typ
	if name != "" {
		spanName += " " + name
	}
	ctx, span := e.tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
		attribute.String("graphql.operation.type", typ),
		attribute.String("graphql.operation.name", name),
	))
	ctx = withTraceLogger(ctx)
	h := next(ctx)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if ended {
			return resp
		}
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, "the response has errors")
		}
		if resp == nil || !subscription {
			ended = true
			span.End()
		}
		return resp
	}
}

// withTraceLogger gives the request's logger in ctx the trace_id and
// span_id of ctx's span, when ctx has both.
func withTraceLogger(ctx context.Context) context.Context {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ctx
	}
	l := zerolog.Ctx(ctx)
	if l.GetLevel() == zerolog.Disabled || l == zerolog.DefaultContextLogger {
		return ctx
	}
	nl := tracing.LogContext(l.With(), sc).Logger()
	return nl.WithContext(ctx)
}
