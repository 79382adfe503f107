package llm

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"
)

// Defaults of AnthropicConfig.
const (
	DefaultAnthropicBaseURL = "https://api.anthropic.com/v1"
	DefaultAnthropicModel   = "claude-sonnet-4-6"
	// DefaultAnthropicMaxTokens is sent when neither the request nor the
	// registry gives a cap: the Messages API requires max_tokens.
	DefaultAnthropicMaxTokens = 8192
)

// AnthropicConfig configures a provider for Anthropic's Messages API. Its
// fields mean what OpenAIConfig's do.
type AnthropicConfig struct {
	// APIKey is sent as x-api-key; required (ErrNotConfigured otherwise).
	APIKey string
	// BaseURL is the API root; default DefaultAnthropicBaseURL
	// ("/messages" is appended).
	BaseURL      string
	DefaultModel string
	Timeout      time.Duration
	HTTPClient   *http.Client
	Registry     *Registry

	MaxAttempts   int
	BaseBackoff   time.Duration
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration
}

type anthropicProvider struct {
	cfg  AnthropicConfig
	reg  *Registry
	call *caller
}

// NewAnthropic returns a Provider for Anthropic's Messages API, built on
// langchaingo's Anthropic client, with the same safeguards, streaming,
// usage and retry policy as NewOpenAI. System messages become the request's
// system prompt.
func NewAnthropic(cfg AnthropicConfig) (Provider, error) {
	var err error
	if cfg.BaseURL, err = checkEndpoint(cfg.APIKey, cfg.BaseURL, DefaultAnthropicBaseURL); err != nil {
		return nil, err
	}
	if cfg.DefaultModel == "" {
		cfg.DefaultModel = DefaultAnthropicModel
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	reg := cfg.Registry
	if reg == nil {
		reg = DefaultRegistry()
	}
	policy := retryPolicy{Timeout: cfg.Timeout, MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, MaxRetryAfter: cfg.MaxRetryAfter}
	policy.setDefaults()
	client, err := anthropic.New(
		anthropic.WithToken(cfg.APIKey),
		anthropic.WithBaseURL(strings.TrimSuffix(cfg.BaseURL, "/")),
		anthropic.WithModel(cfg.DefaultModel),
		anthropic.WithHTTPClient(&recordingDoer{client: cfg.HTTPClient}),
	)
	if err != nil {
		return nil, fmt.Errorf("llm: anthropic client: %s", redact(err.Error(), cfg.APIKey))
	}
	return &anthropicProvider{cfg: cfg, reg: reg, call: &caller{
		name:   ProviderAnthropic,
		secret: cfg.APIKey,
		policy: policy,
		model:  client,
		tokens: func(info map[string]any) (int, int) {
			return intInfo(info, "InputTokens"), intInfo(info, "OutputTokens")
		},
	}}, nil
}

func (p *anthropicProvider) Name() string { return ProviderAnthropic }

func (p *anthropicProvider) Generate(ctx context.Context, req Request) (*Response, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("llm: anthropic: request has no messages")
	}
	model := req.Model
	if model == "" {
		model = p.cfg.DefaultModel
	}
	apiModel := model
	if m, ok := p.reg.Lookup(model); ok {
		apiModel = m.RequestName()
	}
	maxTokens := p.reg.CapMaxTokens(model, req.MaxTokens)
	if maxTokens <= 0 {
		maxTokens = min(p.reg.MaxOutputTokens(model), DefaultAnthropicMaxTokens)
	}
	if maxTokens <= 0 {
		maxTokens = DefaultAnthropicMaxTokens
	}
	opts := []llms.CallOption{
		llms.WithModel(apiModel),
		llms.WithTemperature(p.reg.ClampTemperature(model, req.Temperature)),
		llms.WithMaxTokens(maxTokens),
	}
	return p.call.generate(ctx, req, model, opts)
}
