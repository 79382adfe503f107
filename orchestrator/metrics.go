package orchestrator

import (
	"context"
	"errors"
	"regexp"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// metered wraps p so that its calls write usage rows (llm.Metered) and are
// counted in the metrics by provider, model and step.
func (s *Service) metered(p llm.Provider) llm.Provider {
	inner := llm.Metered(p, s.cfg.Registry, s.recordUsage)
	if s.cfg.Metrics != nil {
		inner = &observed{Provider: inner, s: s}
	}
	return &traced{Provider: inner, s: s}
}

// traced gives each of a provider's calls a span "llm.generate" with the
// provider, model, step, tokens and attempts (never prompts or answers).
type traced struct {
	llm.Provider
	s *Service
}

func (t *traced) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	ctx, span := t.s.tracer.Start(ctx, "llm.generate", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	model := metrics.Other
	if m, known := t.s.cfg.Registry.Lookup(req.Model); known {
		model = m.Name
	}
	attrs := []attribute.KeyValue{attribute.String("llm.provider", t.Name()), attribute.String("llm.model", model)}
	if m, ok := ctx.Value(usageKey{}).(usageMeta); ok && stepLabel.MatchString(m.step) {
		attrs = append(attrs, attribute.String("llm.step", m.step))
	}
	resp, err := t.Provider.Generate(ctx, req)
	if resp != nil {
		u := resp.Usage
		attrs = append(attrs, attribute.Int64("llm.input_tokens", int64(u.InputTokens)),
			attribute.Int64("llm.output_tokens", int64(u.OutputTokens)), attribute.Int("llm.attempts", u.Attempts))
	}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		attrs = append(attrs, attribute.Int("llm.attempts", apiErr.Attempts))
	}
	span.SetAttributes(attrs...)
	if err != nil {
		span.SetStatus(codes.Error, "llm call failed")
	}
	return resp, err
}

// observed counts a provider's calls in the metrics.
type observed struct {
	llm.Provider
	s *Service
}

var stepLabel = regexp.MustCompile(`^[a-z_]{1,40}$`)

func (o *observed) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	start := time.Now()
	resp, err := o.Provider.Generate(ctx, req)
	c := metrics.LLMCall{Provider: o.Name(), Model: metrics.Other, Duration: time.Since(start), Failed: err != nil}
	if m, known := o.s.cfg.Registry.Lookup(req.Model); known {
		c.Model = m.Name
	}
	if m, ok := ctx.Value(usageKey{}).(usageMeta); ok && stepLabel.MatchString(m.step) {
		c.Step = m.step
	}
	if resp != nil {
		u := resp.Usage
		c.InputTokens, c.OutputTokens, c.CostUSD = u.InputTokens, u.OutputTokens, u.CostUSD
		c.Retries = u.Attempts - 1
	}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		c.Retries = apiErr.Attempts - 1
	}
	o.s.cfg.Metrics.LLMCalled(c)
	return resp, err
}
