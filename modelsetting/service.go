package modelsetting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/secret"
)

// DefaultTemperature is the temperature of a run whose user set none.
const DefaultTemperature = 0.2

// maxAPIKeyLen bounds a user's own API key.
const maxAPIKeyLen = 512

// Settings are the model settings a user chose.
type Settings struct {
	Provider    string
	Model       string
	Temperature float64
	// MaxTokens is 0 when the provider's default applies.
	MaxTokens    int
	HasCustomKey bool
}

// Input is what a user asks for; nil fields stay as they are, and an empty
// APIKey removes the stored key.
type Input struct {
	Provider    string
	Model       string
	Temperature *float64
	MaxTokens   *int
	APIKey      *string
}

// Config wires a Service.
type Config struct {
	DB *ent.Client
	// Registry knows the models (nil: llm.DefaultRegistry()).
	Registry *llm.Registry
	// Box seals and opens the users' own API keys (nil: the server has no
	// SECRET_KEY, and storing and using own keys is refused).
	Box *secret.Box
	// DefaultModel is the model of the runs of a user without settings
	// (DEFAULT_MODEL).
	DefaultModel string
	// Providers are the server's own providers (its keys): a run without an
	// own key goes to one of them (nil: none is configured).
	Providers *llm.Providers
	// OpenAIBaseURL is where a user's own OpenAI key is sent (empty: OpenAI's
	// API; OPENAI_BASE_URL).
	OpenAIBaseURL string
	// Timeout bounds each attempt of a call made with a user's own key (0:
	// the llm package's default; LLM_TIMEOUT).
	Timeout time.Duration
}

// Service stores users' model settings, their own API keys sealed with the
// server's secret, and picks the model and provider of each user's runs.
// Safe for concurrent use.
type Service struct {
	db  *ent.Client
	reg *llm.Registry
	box *secret.Box
	// connect returns the provider of a run: with apiKey "", the server's
	// own; otherwise one for provider with that key.
	connect      func(provider, apiKey string) (llm.Provider, error)
	defaultModel string
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Registry == nil {
		cfg.Registry = llm.DefaultRegistry()
	}
	if cfg.Providers == nil {
		cfg.Providers = llm.NewProviders(nil, llm.ProviderOpenAI, cfg.Registry)
	}
	s := &Service{db: cfg.DB, reg: cfg.Registry, box: cfg.Box, defaultModel: cfg.DefaultModel}
	s.connect = connector(cfg)
	return s
}

// connector gives runs their provider: with a user's own key, that
// provider's own client with the key (OpenAI's at OpenAIBaseURL when set);
// otherwise the server's provider of that name (or the custom
// OPENAI_BASE_URL endpoint when that provider has no server key, as for
// DefaultModel), or, for a user without settings (provider ""), the
// provider of DefaultModel.
func connector(cfg Config) func(provider, apiKey string) (llm.Provider, error) {
	return func(provider, apiKey string) (llm.Provider, error) {
		if apiKey == "" {
			if provider == "" {
				return cfg.Providers.For(cfg.DefaultModel)
			}
			return cfg.Providers.Serving(provider)
		}
		creds := llm.Credentials{APIKey: apiKey, Timeout: cfg.Timeout}
		if provider == llm.ProviderOpenAI {
			creds.BaseURL = cfg.OpenAIBaseURL
		}
		return llm.NewProvider(provider, creds)
	}
}

func settingsOf(u *ent.User) *Settings {
	if u.ModelName == nil {
		return nil
	}
	return &Settings{
		Provider: deref(u.ModelProvider), Model: *u.ModelName,
		Temperature: deref(u.ModelTemperature), MaxTokens: deref(u.ModelMaxTokens),
		HasCustomKey: len(sealedKey(u)) > 0,
	}
}

// sealedKey returns the user's sealed API key, nil without one (ent scans a
// NULL bytes column into a pointer to a nil slice).
func sealedKey(u *ent.User) []byte {
	if u.ModelAPIKey == nil {
		return nil
	}
	return *u.ModelAPIKey
}

// Get returns a user's settings, or nil when the server's defaults apply.
func (s *Service) Get(ctx context.Context, userID string) (*Settings, error) {
	u, err := s.db.User.Get(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	return settingsOf(u), nil
}

// Update stores a user's settings with the original's safeguards: the model
// must be a registry model of the provider; the temperature is clamped to
// 0..1 (1 for reasoning models); max tokens are capped per model family.
// Storing an own API key needs SECRET_KEY.
func (s *Service) Update(ctx context.Context, userID string, in Input) (*Settings, error) {
	provider := strings.ToLower(strings.TrimSpace(in.Provider))
	providers := s.reg.Providers()
	if !slices.Contains(providers, provider) {
		return nil, errcode.Field("provider", "must be one of %s", strings.Join(providers, ", "))
	}
	m, ok := s.reg.Lookup(in.Model)
	if !ok || m.Provider != provider {
		return nil, errcode.Field("model", "%q is not a %s model of the registry (see the models query)", in.Model, provider)
	}
	u, err := s.db.User.Get(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	temp := DefaultTemperature
	if u.ModelTemperature != nil {
		temp = *u.ModelTemperature
	}
	if in.Temperature != nil {
		temp = *in.Temperature
	}
	maxTokens := deref(u.ModelMaxTokens)
	if in.MaxTokens != nil {
		if *in.MaxTokens < 1 {
			return nil, errcode.Field("maxTokens", "must be at least 1")
		}
		maxTokens = *in.MaxTokens
	}
	upd := s.db.User.UpdateOneID(userID).SetModelProvider(provider).SetModelName(m.Name).
		SetModelTemperature(s.reg.ClampTemperature(m.Name, temp))
	if maxTokens > 0 {
		upd.SetModelMaxTokens(s.reg.CapMaxTokens(m.Name, maxTokens))
	}
	if in.APIKey == nil && len(sealedKey(u)) > 0 && deref(u.ModelProvider) != provider {
		// The stored key is another provider's: never send it to this one.
		return nil, errcode.Field("apiKey", "your stored API key is for %s: give a %s key, or \"\" to use the server's", deref(u.ModelProvider), provider)
	}
	if in.APIKey != nil {
		key := strings.TrimSpace(*in.APIKey)
		switch {
		case key == "":
			upd.ClearModelAPIKey()
		case len(key) > maxAPIKeyLen:
			return nil, errcode.Field("apiKey", "must be at most %d bytes", maxAPIKeyLen)
		default:
			sealed, err := s.box.Seal([]byte(key), userID)
			if errors.Is(err, secret.ErrNoSecret) {
				return nil, &errcode.Error{Code: errcode.Unavailable, Field: "apiKey",
					Message: "this server cannot store API keys: its operator has not set SECRET_KEY"}
			}
			if err != nil {
				return nil, fmt.Errorf("seal API key: %w", err)
			}
			upd.SetModelAPIKey(sealed)
		}
	}
	u, err = upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("store model settings of %s: %w", userID, err)
	}
	return settingsOf(u), nil
}

// Choice is the provider and settings a run's LLM calls use.
type Choice struct {
	Provider    llm.Provider
	Model       string
	Temperature float64
	MaxTokens   int
	// OwnKey is set when the provider uses the user's own API key: every
	// call then goes to the user's model (no step has a model of its own).
	OwnKey bool
}

// KeyError is why a run cannot use its user's own API key: it cannot be
// opened (sealed under another SECRET_KEY, or none is set now). Its message
// tells the user what to do.
type KeyError struct {
	Err error
}

// Error says why the key cannot be used and what the user may do.
func (e *KeyError) Error() string {
	return "your own API key cannot be used (" + e.Err.Error() + "): store it again with updateModelSettings, or remove it"
}

// Unwrap returns why the key cannot be opened.
func (e *KeyError) Unwrap() error { return e.Err }

// ForRun picks the model of a run of userID: the user's settings (model,
// temperature, max tokens, and their own key, opened here, in the worker),
// else the server's default model at DefaultTemperature, clamped as the
// settings' temperature is. An error wraps llm.ErrNotConfigured when
// no provider serves the model, and is a *KeyError when the user's own key
// cannot be opened.
func (s *Service) ForRun(ctx context.Context, userID string) (*Choice, error) {
	u, err := s.db.User.Get(system(ctx), userID)
	if err != nil {
		return nil, fmt.Errorf("load settings of %s: %w", userID, err)
	}
	st := settingsOf(u)
	if st == nil {
		p, err := s.connect("", "")
		if err != nil {
			return nil, err
		}
		// The same clamp as the settings' (1 for a reasoning model).
		return &Choice{Provider: p, Model: s.defaultModel, Temperature: s.reg.ClampTemperature(s.defaultModel, DefaultTemperature)}, nil
	}
	key := ""
	if sealed := sealedKey(u); len(sealed) > 0 {
		pt, err := s.box.Open(sealed, u.ID)
		if err != nil {
			return nil, &KeyError{Err: err}
		}
		key = string(pt)
	}
	p, err := s.connect(st.Provider, key)
	if err != nil {
		return nil, err
	}
	return &Choice{
		Provider:    p,
		Model:       st.Model,
		Temperature: s.reg.ClampTemperature(st.Model, st.Temperature),
		MaxTokens:   s.reg.CapMaxTokens(st.Model, st.MaxTokens),
		OwnKey:      key != "",
	}, nil
}

func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
