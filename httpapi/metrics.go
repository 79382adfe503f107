package httpapi

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/autoanalyst/autoanalyst/metrics"
)

// operationMetrics is a gqlgen handler extension that counts operations
// (type, name, outcome, time to the first response) and the errors of every
// response by extensions.code. A document that does not parse or validate
// counts as an operation of type "unknown". Safe for concurrent use.
type operationMetrics struct{ m *metrics.Metrics }

// operationMetricsKey marks, in an operation's Stats, an operation that
// went through InterceptOperation (it ran).
const operationMetricsKey = "OperationMetrics"

var (
	_ graphql.HandlerExtension     = operationMetrics{}
	_ graphql.OperationInterceptor = operationMetrics{}
	_ graphql.ResponseInterceptor  = operationMetrics{}
)

func (operationMetrics) ExtensionName() string                   { return "OperationMetrics" }
func (operationMetrics) Validate(graphql.ExecutableSchema) error { return nil }
func (e operationMetrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	oc.Stats.SetExtension(operationMetricsKey, true)
	h := next(ctx)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if first {
			first = false
			typ, name := "unknown", oc.OperationName
			if oc.Operation != nil {
				typ = string(oc.Operation.Operation)
				if name == "" {
					name = oc.Operation.Name
				}
			}
			start := oc.Stats.OperationStart
			if start.IsZero() {
				start = time.Now()
			}
			e.m.GraphQLOperation(typ, name, resp != nil && len(resp.Errors) > 0, time.Since(start))
		}
		return resp
	}
}

func (e operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	for _, err := range resp.Errors {
		code, _ := err.Extensions["code"].(string)
		e.m.GraphQLError(code)
	}
	if !graphql.HasOperationContext(ctx) || graphql.GetOperationContext(ctx).Stats.GetExtension(operationMetricsKey) == nil {
		// DispatchError: the operation was refused before it ran (it did
		// not parse or validate, or a limit refused it).
		typ, name, start := "unknown", "", time.Now()
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			name = oc.OperationName
			if oc.Operation != nil {
				typ = string(oc.Operation.Operation)
			}
			if !oc.Stats.OperationStart.IsZero() {
				start = oc.Stats.OperationStart
			}
		}
		e.m.GraphQLOperation(typ, name, true, time.Since(start))
	}
	return resp
}
