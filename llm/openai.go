package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

// Defaults of OpenAIConfig.
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	DefaultOpenAIModel   = "gpt-5-mini"
	DefaultTimeout       = 5 * time.Minute
	DefaultMaxAttempts   = 3
	DefaultBaseBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// OpenAIConfig configures a provider for OpenAI's chat-completions API or any
// endpoint compatible with it (Groq, OpenRouter, Ollama, vLLM, a test server).
type OpenAIConfig struct {
	// APIKey is sent as a bearer token. It is required (ErrNotConfigured
	// otherwise) and never appears in errors.
	APIKey string
	// BaseURL is the API root, e.g. "https://api.groq.com/openai/v1";
	// default DefaultOpenAIBaseURL. "/chat/completions" is appended.
	BaseURL string
	// DefaultModel is used when a Request names no model; default
	// DefaultOpenAIModel (set it for a non-OpenAI endpoint).
	DefaultModel string
	// Timeout bounds each attempt: one HTTP request including the whole
	// (streamed) body. The caller's context bounds the whole call, retries
	// included. Default DefaultTimeout.
	Timeout time.Duration
	// HTTPClient sends the requests; default a client on
	// http.DefaultTransport. Its own Timeout, if any, also applies.
	HTTPClient *http.Client

	// Name is the provider's name in usage rows and errors; default
	// "openai" (e.g. "groq" for Groq's endpoint).
	Name string
	// Registry supplies the safeguards (temperature clamp, max-token cap)
	// and maps registry names to API names (Groq's "openai/gpt-oss-20b");
	// nil means DefaultRegistry().
	Registry *Registry
	// MaxAttempts bounds the attempts of one call (1 = no retry); default
	// DefaultMaxAttempts.
	MaxAttempts int
	// BaseBackoff is the wait before the first retry, doubled for each
	// further retry (with jitter) up to MaxBackoff. Defaults
	// DefaultBaseBackoff, DefaultMaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest Retry-After the provider may ask for and
	// still be retried; a longer one fails the call at once. Default
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// LegacyMaxTokens sends "max_tokens" instead of "max_completion_tokens",
	// for older compatible servers.
	LegacyMaxTokens bool
}

type openAIProvider struct {
	cfg  OpenAIConfig
	call *caller
}

// NewOpenAI returns a Provider for an OpenAI-compatible chat-completions
// endpoint, built on langchaingo's OpenAI client.
//
// Every call: applies the registry's safeguards (ClampTemperature,
// CapMaxTokens); streams when Request.OnToken is set (langchaingo then asks
// for stream_options.include_usage, so the final chunk carries the usage);
// takes Usage from the provider's reported token counts (estimated, with
// Usage.Estimated set, only when the endpoint reports none); and retries with
// exponential backoff on 429, 5xx and timeouts, honouring Retry-After
// (and retry-after-ms), never on other 4xx and never once streamed chunks
// have been delivered.
func NewOpenAI(cfg OpenAIConfig) (Provider, error) {
	if cfg.DefaultModel == "" {
		cfg.DefaultModel = DefaultOpenAIModel
	}
	if cfg.Name == "" {
		cfg.Name = ProviderOpenAI
	}
	call, err := newCaller(endpoint{
		name:           cfg.Name,
		key:            cfg.APIKey,
		baseURL:        cfg.BaseURL,
		defaultBaseURL: DefaultOpenAIBaseURL,
		defaultModel:   cfg.DefaultModel,
		httpClient:     cfg.HTTPClient,
		registry:       cfg.Registry,
		policy:         retryPolicy{Timeout: cfg.Timeout, MaxAttempts: cfg.MaxAttempts, BaseBackoff: cfg.BaseBackoff, MaxBackoff: cfg.MaxBackoff, MaxRetryAfter: cfg.MaxRetryAfter},
		tokens: func(info map[string]any) (int, int) {
			return intInfo(info, "PromptTokens"), intInfo(info, "CompletionTokens")
		},
	}, func(baseURL, model string, doer *recordingDoer) (llms.Model, error) {
		return openai.New(
			openai.WithToken(cfg.APIKey),
			openai.WithBaseURL(baseURL),
			openai.WithModel(model),
			openai.WithOrganization(""), // do not pick up OPENAI_ORGANIZATION
			openai.WithHTTPClient(doer),
		)
	})
	if err != nil {
		return nil, err
	}
	return &openAIProvider{cfg: cfg, call: call}, nil
}

func (p *openAIProvider) Name() string { return p.cfg.Name }

func (p *openAIProvider) Generate(ctx context.Context, req Request) (*Response, error) {
	model, opts, err := p.call.prepare(req)
	if err != nil {
		return nil, err
	}
	if n := p.call.reg.CapMaxTokens(model, req.MaxTokens); n > 0 {
		opts = append(opts, llms.WithMaxTokens(n))
		if p.cfg.LegacyMaxTokens {
			opts = append(opts, openai.WithLegacyMaxTokensField())
		}
	}
	return p.call.generate(ctx, req, model, opts)
}

// attemptKey carries an *attemptRecord in the context of one attempt, so
// that the HTTP layer can tell the retry loop what it saw (langchaingo turns
// HTTP failures into plain strings).
type attemptKey struct{}

type attemptRecord struct {
	status        int
	message       string
	retryAfter    time.Duration
	hasRetryAfter bool
	transportErr  error
}

// recordingDoer is the HTTP client handed to langchaingo. It sends each
// request once, notes the status, Retry-After and error message of a failed
// response (putting the body back for langchaingo) and any transport error.
// It does not retry by itself: a streamed body is consumed by langchaingo
// after Do returns, so only the loop in Generate knows whether chunks were
// delivered.
type recordingDoer struct {
	client *http.Client
}

func (d *recordingDoer) Do(req *http.Request) (*http.Response, error) {
	rec, _ := req.Context().Value(attemptKey{}).(*attemptRecord)
	resp, err := d.client.Do(req)
	if rec == nil {
		return resp, err
	}
	if err != nil {
		rec.transportErr = err
		return resp, err
	}
	rec.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		rec.retryAfter, rec.hasRetryAfter = parseRetryAfter(resp.Header, time.Now())
		rec.message = redact(errorMessage(body, resp.StatusCode), bearerKey(req))
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// checkEndpoint refuses a missing key (ErrNotConfigured) and a base URL
// that is not http(s)://host/path, without repeating the key; it returns the
// base URL, def when empty.
func checkEndpoint(key, base, def string) (string, error) {
	if strings.TrimSpace(key) == "" {
		return "", ErrNotConfigured
	}
	if base == "" {
		base = def
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("llm: invalid base URL %q: want http(s)://host/path", redact(base, key))
	}
	return base, nil
}

// bearerKey is the secret a request carries (OpenAI's bearer token,
// Azure's api-key, Anthropic's x-api-key), to redact it from messages.
func bearerKey(req *http.Request) string {
	if v, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		return v
	}
	if v := req.Header.Get("x-api-key"); v != "" {
		return v
	}
	return req.Header.Get("api-key")
}

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or
// an HTTP date).
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// errorMessage extracts the message of an OpenAI-style error body
// ({"error": {"message": ...}} or {"error": "..."}), else a short excerpt.
func errorMessage(body []byte, status int) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			return truncate(obj.Message, 500)
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return truncate(s, 500)
		case e.Message != "":
			return truncate(e.Message, 500)
		}
	}
	if msg := strings.TrimSpace(string(body)); msg != "" && utf8.ValidString(msg) {
		return truncate(msg, 200)
	}
	return http.StatusText(status)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func intInfo(info map[string]any, key string) int {
	switch v := info[key].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

func promptText(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(string(m.Role))
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return b.String()
}

// estimateTokens is a rough count (four characters a token), used only when
// the provider reported none.
func estimateTokens(s string) int {
	if s == "" {
		return 0
	}
	return (utf8.RuneCountInString(s) + 3) / 4
}
