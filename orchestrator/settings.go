package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// ModelSettings is a user's model choice.
type ModelSettings struct {
	Provider    string
	Model       string
	Temperature float64
	// MaxTokens is 0 when the provider's default applies.
	MaxTokens    int
	HasCustomKey bool
}

// SettingsInput is what a user asks for; nil fields stay as they are, and an
// empty APIKey removes the stored key.
type SettingsInput struct {
	Provider    string
	Model       string
	Temperature *float64
	MaxTokens   *int
	APIKey      *string
}

// Settings stores users' model settings, their own API keys sealed with the
// server's secret. Safe for concurrent use.
type Settings struct {
	db  *ent.Client
	reg *llm.Registry
	box *secret.Box
}

// NewSettings returns a Settings. reg nil means llm.DefaultRegistry(); box
// nil means the server has no SECRET_KEY (storing and using own keys is
// refused).
func NewSettings(db *ent.Client, reg *llm.Registry, box *secret.Box) *Settings {
	if reg == nil {
		reg = llm.DefaultRegistry()
	}
	return &Settings{db: db, reg: reg, box: box}
}

func settingsOf(u *ent.User) *ModelSettings {
	if u.ModelName == nil {
		return nil
	}
	return &ModelSettings{
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
func (s *Settings) Get(ctx context.Context, userID string) (*ModelSettings, error) {
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
func (s *Settings) Update(ctx context.Context, userID string, in SettingsInput) (*ModelSettings, error) {
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

// Connect returns a provider: with apiKey "", the server's own; otherwise
// one for provider ("openai", "anthropic", "groq", "gemini") with that key.
type Connect func(provider, apiKey string) (llm.Provider, error)

// RunModels returns the Models of a Service: a run uses the settings of the
// user who started it (model, temperature, max tokens, and their own key,
// opened here, in the worker), else the server's default model.
func (s *Settings) RunModels(defaultModel string, connect Connect) Models {
	return func(ctx context.Context, userID string) (*ModelChoice, error) {
		u, err := s.db.User.Get(system(ctx), userID)
		if err != nil {
			return nil, fmt.Errorf("load settings of %s: %w", userID, err)
		}
		st := settingsOf(u)
		if st == nil {
			p, err := connect("", "")
			if err != nil {
				return nil, err
			}
			return &ModelChoice{Provider: p, Model: defaultModel, Temperature: DefaultTemperature}, nil
		}
		key := ""
		if sealed := sealedKey(u); len(sealed) > 0 {
			pt, err := s.box.Open(sealed, u.ID)
			if err != nil {
				return nil, &runError{code: CodeModelNotConfigured, err: err,
					msg: "your own API key cannot be used (" + err.Error() + "): store it again with updateModelSettings, or remove it"}
			}
			key = string(pt)
		}
		p, err := connect(st.Provider, key)
		if err != nil {
			return nil, err
		}
		return &ModelChoice{
			Provider:    p,
			Model:       st.Model,
			Temperature: s.reg.ClampTemperature(st.Model, st.Temperature),
			MaxTokens:   s.reg.CapMaxTokens(st.Model, st.MaxTokens),
			OwnKey:      key != "",
		}, nil
	}
}

func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}
