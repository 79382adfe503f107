package llm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
)

// retryPolicy bounds one call's attempts (see OpenAIConfig for each field).
type retryPolicy struct {
	Timeout       time.Duration
	MaxAttempts   int
	BaseBackoff   time.Duration
	MaxBackoff    time.Duration
	MaxRetryAfter time.Duration
}

// setDefaults fills a policy's zero fields with the package defaults.
func (p *retryPolicy) setDefaults() {
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = DefaultBaseBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
}

// caller runs model calls through a langchaingo model, with the policy every
// provider here shares: streaming when asked, usage from the provider's
// reported counts, retries with backoff on 429, 5xx and timeouts (honouring
// Retry-After), never on other 4xx and never once streamed chunks reached
// the caller. The model's HTTP client must be a recordingDoer. A caller is
// safe for concurrent use.
type caller struct {
	name   string // the provider's, in errors and usage
	secret string // redacted from every message
	policy retryPolicy
	model  llms.Model
	// tokens reads the reported input and output tokens of a choice.
	tokens func(info map[string]any) (in, out int)
	// defaultModel is the model of a Request that names none.
	defaultModel string
	reg          *Registry
}

// endpoint is what NewOpenAI and NewAnthropic read alike from their
// configurations, for newCaller.
type endpoint struct {
	name           string // the provider's, in errors and usage
	key            string
	baseURL        string
	defaultBaseURL string
	defaultModel   string // already defaulted by the provider
	httpClient     *http.Client
	registry       *Registry
	policy         retryPolicy
	tokens         func(info map[string]any) (in, out int)
}

// connectFunc makes a provider's langchaingo model for the checked base URL
// (without a trailing slash) and default model; its requests must go through
// doer.
type connectFunc func(baseURL, model string, doer *recordingDoer) (llms.Model, error)

// newCaller checks e's key and base URL (checkEndpoint), fills the defaults
// of its HTTP client, registry and retry policy, and returns the caller
// around the model connect makes.
func newCaller(e endpoint, connect connectFunc) (*caller, error) {
	base, err := checkEndpoint(e.key, e.baseURL, e.defaultBaseURL)
	if err != nil {
		return nil, err
	}
	client := e.httpClient
	if client == nil {
		client = &http.Client{}
	}
	e.policy.setDefaults()
	reg := e.registry
	if reg == nil {
		reg = DefaultRegistry()
	}
	model, err := connect(strings.TrimSuffix(base, "/"), e.defaultModel, &recordingDoer{client: client})
	if err != nil {
		return nil, fmt.Errorf("llm: %s client: %s", e.name, redact(err.Error(), e.key))
	}
	return &caller{
		name:         e.name,
		secret:       e.key,
		policy:       e.policy,
		model:        model,
		tokens:       e.tokens,
		defaultModel: e.defaultModel,
		reg:          reg,
	}, nil
}

// prepare refuses a request without messages and resolves its model: the one
// req names, else the default. opts are the options every provider sends:
// the model's API name (Registry.Lookup) and the clamped temperature.
func (c *caller) prepare(req Request) (model string, opts []llms.CallOption, err error) {
	if len(req.Messages) == 0 {
		return "", nil, fmt.Errorf("llm: %s: request has no messages", c.name)
	}
	model = req.Model
	if model == "" {
		model = c.defaultModel
	}
	apiModel := model
	if m, ok := c.reg.Lookup(model); ok {
		apiModel = m.RequestName()
	}
	return model, []llms.CallOption{
		llms.WithModel(apiModel),
		llms.WithTemperature(c.reg.ClampTemperature(model, req.Temperature)),
	}, nil
}

// generate calls the model named model with opts (the provider's own:
// model name, temperature, max tokens) for req.
func (c *caller) generate(ctx context.Context, req Request, model string, opts []llms.CallOption) (*Response, error) {
	msgs := make([]llms.MessageContent, 0, len(req.Messages))
	for _, m := range req.Messages {
		role := llms.ChatMessageTypeHuman
		switch m.Role {
		case RoleSystem:
			role = llms.ChatMessageTypeSystem
		case RoleAssistant:
			role = llms.ChatMessageTypeAI
		}
		msgs = append(msgs, llms.TextParts(role, m.Content))
	}
	// Chunks delivered so far. langchaingo calls the streaming func on the
	// goroutine that called GenerateContent, so no locking is needed.
	var streamed strings.Builder
	delivered := false
	if req.OnToken != nil {
		opts = append(opts, llms.WithStreamingFunc(func(_ context.Context, chunk []byte) error {
			if len(chunk) == 0 { // role-only and finish chunks
				return nil
			}
			delivered = true
			streamed.Write(chunk)
			req.OnToken(string(chunk))
			return nil
		}))
	}

	start := time.Now()
	for attempt := 1; ; attempt++ {
		rec := &attemptRecord{}
		actx, cancel := context.WithTimeout(context.WithValue(ctx, attemptKey{}, rec), c.policy.Timeout)
		resp, err := c.model.GenerateContent(actx, msgs, opts...)
		if err == nil && req.OnToken != nil && actx.Err() != nil && streamCut(resp) {
			// langchaingo's stream readers can end quietly when the context
			// is done, returning the truncated answer as a success.
			err = errStreamCut
		}
		attemptTimedOut := errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		if err == nil {
			r, err := c.response(req, model, resp, time.Since(start))
			if r != nil {
				r.Usage.Attempts = attempt
			}
			return r, err
		}

		var partial *Response
		if delivered {
			partial = &Response{Content: streamed.String(), Usage: Usage{
				Provider:     c.name,
				Model:        model,
				InputTokens:  estimateTokens(promptText(req.Messages)),
				OutputTokens: estimateTokens(streamed.String()),
				Duration:     time.Since(start),
				Streamed:     true,
				Estimated:    true,
			}}
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(cerr, context.DeadlineExceeded) {
				return partial, fmt.Errorf("llm: %s model %s: %w: %w", c.name, model, ErrTimeout, cerr)
			}
			return partial, fmt.Errorf("llm: %s model %s: %w", c.name, model, cerr)
		}

		apiErr := &APIError{
			Provider: c.name,
			Model:    model,
			Attempts: attempt,
			Timeout:  attemptTimedOut || isTimeout(rec.transportErr),
			Partial:  delivered,
			Message:  redact(rec.message, c.secret),
		}
		if rec.status != 0 && rec.status != http.StatusOK {
			apiErr.StatusCode = rec.status
		}
		if apiErr.Message == "" && !apiErr.Timeout {
			apiErr.Message = redact(err.Error(), c.secret)
		}
		if !apiErr.Retryable() || attempt >= c.policy.MaxAttempts {
			return partial, apiErr
		}

		wait := c.backoff(attempt)
		if rec.hasRetryAfter {
			if rec.retryAfter > c.policy.MaxRetryAfter {
				return nil, apiErr
			}
			wait = rec.retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, apiErr
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("llm: %s model %s: waiting to retry (%s): %w", c.name, model, apiErr.Error(), ctx.Err())
		case <-timer.C:
		}
	}
}

var errStreamCut = errors.New("stream ended before its last chunk")

// streamCut reports whether a streamed response lacks the finish reason its
// last chunk would have carried.
func streamCut(resp *llms.ContentResponse) bool {
	return resp == nil || len(resp.Choices) == 0 || resp.Choices[0].StopReason == ""
}

func (c *caller) response(req Request, model string, resp *llms.ContentResponse, d time.Duration) (*Response, error) {
	if resp == nil || len(resp.Choices) == 0 {
		return nil, &APIError{Provider: c.name, Model: model, Message: "empty response"}
	}
	choice := resp.Choices[0]
	in, out := c.tokens(choice.GenerationInfo)
	u := Usage{
		Provider:     c.name,
		Model:        model,
		InputTokens:  in,
		OutputTokens: out,
		Duration:     d,
		Streamed:     req.OnToken != nil,
	}
	if u.InputTokens == 0 && u.OutputTokens == 0 {
		// A prompt is never zero tokens: the endpoint did not report usage.
		u.InputTokens = estimateTokens(promptText(req.Messages))
		u.OutputTokens = estimateTokens(choice.Content)
		u.Estimated = true
	}
	return &Response{Content: choice.Content, Usage: u}, nil
}

// backoff is the wait before retry number attempt (1-based): BaseBackoff
// doubled per retry, capped at MaxBackoff, with "equal jitter" (half fixed,
// half random) so that many clients do not retry in lockstep.
func (c *caller) backoff(attempt int) time.Duration {
	d := c.policy.BaseBackoff
	for i := 1; i < attempt && d < c.policy.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.policy.MaxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}
