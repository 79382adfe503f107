package llm

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURLs are the API roots of the providers NewProvider knows.
// Gemini and Ollama are reached through their OpenAI-compatible endpoints.
var DefaultBaseURLs = map[string]string{
	ProviderOpenAI:    DefaultOpenAIBaseURL,
	ProviderGroq:      "https://api.groq.com/openai/v1",
	ProviderGemini:    "https://generativelanguage.googleapis.com/v1beta/openai",
	ProviderOllama:    "http://localhost:11434/v1",
	ProviderAnthropic: DefaultAnthropicBaseURL,
}

// Credentials are what a provider needs: a key and, optionally, another
// endpoint than the provider's default.
type Credentials struct {
	APIKey  string
	BaseURL string
	// Timeout bounds each attempt (DefaultTimeout when zero).
	Timeout    time.Duration
	HTTPClient *http.Client
	Registry   *Registry
}

// NewProvider returns the Provider of a registry provider name ("openai",
// "anthropic", "groq", "gemini", "ollama") with creds. An Ollama server
// needs no key. It returns ErrNotConfigured without a key, and an error
// naming the provider for an unknown one.
func NewProvider(name string, creds Credentials) (Provider, error) {
	base := creds.BaseURL
	if base == "" {
		base = DefaultBaseURLs[name]
	}
	switch name {
	case ProviderAnthropic:
		return NewAnthropic(AnthropicConfig{APIKey: creds.APIKey, BaseURL: base, Timeout: creds.Timeout, HTTPClient: creds.HTTPClient, Registry: creds.Registry})
	case ProviderOpenAI, ProviderGroq, ProviderGemini, ProviderOllama:
		key := creds.APIKey
		if name == ProviderOllama && key == "" {
			key = "ollama" // Ollama ignores the key; the client wants one
		}
		return NewOpenAI(OpenAIConfig{APIKey: key, BaseURL: base, Name: name, Timeout: creds.Timeout, HTTPClient: creds.HTTPClient, Registry: creds.Registry})
	}
	return nil, fmt.Errorf("llm: unknown provider %q (known: %s)", name, strings.Join(knownProviders(), ", "))
}

func knownProviders() []string {
	names := make([]string, 0, len(DefaultBaseURLs))
	for n := range DefaultBaseURLs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Providers is the server's set of configured providers: it hands out the
// provider of a model (by the registry's provider of that model), building
// each provider once. It is safe for concurrent use.
type Providers struct {
	creds    map[string]Credentials
	fallback string // the provider of models the registry does not know
	reg      *Registry

	mu    sync.Mutex
	built map[string]Provider
}

// NewProviders returns a set over creds (provider name -> credentials; only
// configured providers). Models the registry does not know go to fallback
// (say "openai" for an OpenAI-compatible endpoint serving other models, or
// "ollama").
func NewProviders(creds map[string]Credentials, fallback string, reg *Registry) *Providers {
	if reg == nil {
		reg = DefaultRegistry()
	}
	return &Providers{creds: creds, fallback: fallback, reg: reg, built: map[string]Provider{}}
}

// Configured reports whether the set has any provider.
func (ps *Providers) Configured() bool { return len(ps.creds) > 0 }

// ProviderOf returns the provider name that serves model.
func (ps *Providers) ProviderOf(model string) string {
	if m, ok := ps.reg.Lookup(model); ok {
		return m.Provider
	}
	return ps.fallback
}

// For returns the provider of model, or an error wrapping ErrNotConfigured
// that names the variable to set when that provider has no credentials. A
// model whose provider is not configured goes to the fallback when the
// fallback is a custom endpoint (not its provider's default URL).
func (ps *Providers) For(model string) (Provider, error) {
	name := ps.ProviderOf(model)
	if _, ok := ps.creds[name]; !ok && !ps.customFallback() {
		return nil, &notConfigured{msg: fmt.Sprintf("llm: model %s is served by %s, which is not configured: set %s", model, name, KeyVariable(name))}
	}
	return ps.Serving(name)
}

// Serving returns the provider that serves the models of provider name
// (a user's chosen provider): that provider when it is configured, else the
// fallback when the fallback is a custom endpoint, else an error wrapping
// ErrNotConfigured that names the variable to set.
func (ps *Providers) Serving(name string) (Provider, error) {
	if _, ok := ps.creds[name]; !ok && ps.customFallback() {
		// An OpenAI-compatible endpoint of the operator's (OPENAI_BASE_URL
		// at Groq or a gateway, say) serves what no provider of its own is
		// set up for.
		name = ps.fallback
	}
	return ps.Named(name)
}

// customFallback reports whether the fallback is configured at a custom
// endpoint (not its provider's default URL).
func (ps *Providers) customFallback() bool {
	fb, ok := ps.creds[ps.fallback]
	return ok && fb.BaseURL != "" && fb.BaseURL != DefaultBaseURLs[ps.fallback]
}

// Named returns the configured provider called name ("anthropic"), or an
// error wrapping ErrNotConfigured that names the variable to set.
func (ps *Providers) Named(name string) (Provider, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p, ok := ps.built[name]; ok {
		return p, nil
	}
	creds, ok := ps.creds[name]
	if !ok {
		return nil, &notConfigured{msg: fmt.Sprintf("llm: provider %s is not configured: set %s", name, KeyVariable(name))}
	}
	if creds.Registry == nil {
		creds.Registry = ps.reg
	}
	p, err := NewProvider(name, creds)
	if err != nil {
		return nil, err
	}
	ps.built[name] = p
	return p, nil
}

// KeyVariable is the environment variable that holds a provider's key.
func KeyVariable(provider string) string {
	switch provider {
	case ProviderOllama:
		return "OLLAMA_BASE_URL"
	case ProviderGemini:
		return "GEMINI_API_KEY"
	}
	return strings.ToUpper(provider) + "_API_KEY"
}

// notConfigured is ErrNotConfigured with a message that names the provider
// and its variable.
type notConfigured struct{ msg string }

func (e *notConfigured) Error() string        { return e.msg }
func (e *notConfigured) Is(target error) bool { return target == ErrNotConfigured }
