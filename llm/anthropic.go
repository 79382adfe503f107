package llm

import (
	"context"
	"net/http"
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
	call *caller
}

// NewAnthropic returns a Provider for Anthropic's Messages API, built on
// langchaingo's Anthropic client, with the same safeguards, streaming,
// usage and retry policy as NewOpenAI. System messages become the request's
// system prompt.
func NewAnthropic(cfg AnthropicConfig) (Provider, error) {
	if cfg.DefaultModel == "" {
		cfg.DefaultModel = DefaultAnthropicModel
	}
	call, err := newCaller(endpoint{
		name:           ProviderAnthropic,
		key:            cfg.APIKey,
		baseURL:        cfg.BaseURL,
		defaultBaseURL: DefaultAnthropicBaseURL,
		defaultModel:   cfg.DefaultModel,
		httpClient:     cfg.HTTPClient,
		registry:       cfg.Registry,
		policy:         retryPolicy{Timeout: cfg.Timeout, MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, MaxRetryAfter: cfg.MaxRetryAfter},
		tokens: func(info map[string]any) (int, int) {
			return intInfo(info, "InputTokens"), intInfo(info, "OutputTokens")
		},
	}, func(baseURL, model string, doer *recordingDoer) (llms.Model, error) {
		return anthropic.New(
			anthropic.WithToken(cfg.APIKey),
			anthropic.WithBaseURL(baseURL),
			anthropic.WithModel(model),
			anthropic.WithHTTPClient(doer),
		)
	})
	if err != nil {
		return nil, err
	}
	return &anthropicProvider{call: call}, nil
}

func (p *anthropicProvider) Name() string { return ProviderAnthropic }

func (p *anthropicProvider) Generate(ctx context.Context, req Request) (*Response, error) {
	model, opts, err := p.call.prepare(req)
	if err != nil {
		return nil, err
	}
	reg := p.call.reg
	maxTokens := reg.CapMaxTokens(model, req.MaxTokens)
	if maxTokens <= 0 {
		maxTokens = min(reg.MaxOutputTokens(model), DefaultAnthropicMaxTokens)
	}
	if maxTokens <= 0 {
		maxTokens = DefaultAnthropicMaxTokens
	}
	opts = append(opts, llms.WithMaxTokens(maxTokens))
	return p.call.generate(ctx, req, model, opts)
}
