package orchestrator

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// metered wraps p so that its calls write usage rows (llm.Metered) and are
// counted in the metrics by provider, model and step.
func (s *Service) metered(p llm.Provider) llm.Provider {
	inner := llm.Metered(p, s.cfg.Registry, s.recordUsage)
	if s.cfg.Metrics == nil {
		return inner
	}
	return &observed{Provider: inner, s: s}
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
