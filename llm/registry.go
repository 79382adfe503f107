package llm

import (
	"math"
	"regexp"
	"slices"
	"strings"
)

// Provider names used in the registry and in Usage.Provider.
const (
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
	ProviderGroq      = "groq"
	ProviderGemini    = "gemini"
	// ProviderOllama is a local Ollama server (its OpenAI-compatible
	// endpoint); the registry lists none of its models.
	ProviderOllama = "ollama"
)

// Tier is a model's price tier, 1 (cheapest) to 5.
type Tier int

// tierCredits is the number of credits one query costs in each tier.
var tierCredits = [...]int{0, 1, 3, 5, 20, 50}

// Credits is what one query on a model of this tier costs (1, 3, 5, 20, 50);
// 0 for a tier outside 1..5.
func (t Tier) Credits() int {
	if t < 1 || int(t) >= len(tierCredits) {
		return 0
	}
	return tierCredits[t]
}

// Model describes one model the application can use.
type Model struct {
	// Provider is the provider's name: "openai", "anthropic", "groq", "gemini".
	Provider string
	// Name is the model's name in this application (settings, usage rows).
	Name string
	// APIName is the name the provider's API expects when it differs from
	// Name (Groq's "openai/gpt-oss-20b"); empty means Name.
	APIName       string
	DisplayName   string
	ContextWindow int
	// InputPer1K and OutputPer1K are USD per 1,000 tokens.
	InputPer1K  float64
	OutputPer1K float64
	Tier        Tier
	// Reasoning models only accept the default temperature (1.0).
	Reasoning bool
}

// Cost is the USD price of a call with in input and out output tokens.
func (m Model) Cost(in, out int) float64 {
	return float64(in)/1000*m.InputPer1K + float64(out)/1000*m.OutputPer1K
}

// Credits is what one query on this model costs.
func (m Model) Credits() int { return m.Tier.Credits() }

// RequestName is the name to send to the provider's API.
func (m Model) RequestName() string {
	if m.APIName != "" {
		return m.APIName
	}
	return m.Name
}

// defaultModels are the models of the original, with published list prices
// (USD per 1K tokens, standard tier, prompts under 200K tokens).
var defaultModels = []Model{
	// OpenAI
	{Provider: ProviderOpenAI, Name: "gpt-5-nano", DisplayName: "GPT-5 Nano", ContextWindow: 400_000, InputPer1K: 0.00005, OutputPer1K: 0.0004, Tier: 1, Reasoning: true},
	{Provider: ProviderOpenAI, Name: "gpt-5-mini", DisplayName: "GPT-5 Mini", ContextWindow: 400_000, InputPer1K: 0.00025, OutputPer1K: 0.002, Tier: 2, Reasoning: true},
	{Provider: ProviderOpenAI, Name: "gpt-5", DisplayName: "GPT-5", ContextWindow: 400_000, InputPer1K: 0.00125, OutputPer1K: 0.01, Tier: 3, Reasoning: true},
	{Provider: ProviderOpenAI, Name: "gpt-5.2", DisplayName: "GPT-5.2", ContextWindow: 400_000, InputPer1K: 0.00175, OutputPer1K: 0.014, Tier: 3, Reasoning: true},
	{Provider: ProviderOpenAI, Name: "o3", DisplayName: "o3", ContextWindow: 200_000, InputPer1K: 0.002, OutputPer1K: 0.008, Tier: 3, Reasoning: true},
	{Provider: ProviderOpenAI, Name: "gpt-4o", DisplayName: "GPT-4o", ContextWindow: 128_000, InputPer1K: 0.0025, OutputPer1K: 0.01, Tier: 3},
	{Provider: ProviderOpenAI, Name: "gpt-4o-mini", DisplayName: "GPT-4o Mini", ContextWindow: 128_000, InputPer1K: 0.00015, OutputPer1K: 0.0006, Tier: 1},
	// Anthropic
	{Provider: ProviderAnthropic, Name: "claude-haiku-4-5", DisplayName: "Claude Haiku 4.5", ContextWindow: 200_000, InputPer1K: 0.001, OutputPer1K: 0.005, Tier: 2},
	{Provider: ProviderAnthropic, Name: "claude-sonnet-4-5", DisplayName: "Claude Sonnet 4.5", ContextWindow: 200_000, InputPer1K: 0.003, OutputPer1K: 0.015, Tier: 4},
	{Provider: ProviderAnthropic, Name: "claude-sonnet-4-6", DisplayName: "Claude Sonnet 4.6", ContextWindow: 200_000, InputPer1K: 0.003, OutputPer1K: 0.015, Tier: 4},
	{Provider: ProviderAnthropic, Name: "claude-opus-4-5", DisplayName: "Claude Opus 4.5", ContextWindow: 200_000, InputPer1K: 0.005, OutputPer1K: 0.025, Tier: 5},
	{Provider: ProviderAnthropic, Name: "claude-opus-4-6", DisplayName: "Claude Opus 4.6", ContextWindow: 200_000, InputPer1K: 0.005, OutputPer1K: 0.025, Tier: 5},
	// Groq
	{Provider: ProviderGroq, Name: "gpt-oss-20b", APIName: "openai/gpt-oss-20b", DisplayName: "GPT-OSS 20B (Groq)", ContextWindow: 131_072, InputPer1K: 0.000075, OutputPer1K: 0.0003, Tier: 1, Reasoning: true},
	{Provider: ProviderGroq, Name: "gpt-oss-120b", APIName: "openai/gpt-oss-120b", DisplayName: "GPT-OSS 120B (Groq)", ContextWindow: 131_072, InputPer1K: 0.00015, OutputPer1K: 0.0006, Tier: 2, Reasoning: true},
	{Provider: ProviderGroq, Name: "deepseek-r1-distill-llama-70b", DisplayName: "DeepSeek R1 Distill Llama 70B (Groq)", ContextWindow: 131_072, InputPer1K: 0.00075, OutputPer1K: 0.00099, Tier: 2, Reasoning: true},
	// Gemini
	{Provider: ProviderGemini, Name: "gemini-2.5-pro", DisplayName: "Gemini 2.5 Pro", ContextWindow: 1_048_576, InputPer1K: 0.00125, OutputPer1K: 0.01, Tier: 3},
	{Provider: ProviderGemini, Name: "gemini-3-flash", APIName: "gemini-3-flash-preview", DisplayName: "Gemini 3 Flash", ContextWindow: 1_048_576, InputPer1K: 0.0005, OutputPer1K: 0.003, Tier: 2},
	{Provider: ProviderGemini, Name: "gemini-3-pro", APIName: "gemini-3-pro-preview", DisplayName: "Gemini 3 Pro", ContextWindow: 1_048_576, InputPer1K: 0.002, OutputPer1K: 0.012, Tier: 4},
}

// Registry is a set of models. A Registry is immutable once built and safe
// for concurrent use; build one with DefaultRegistry or NewRegistry.
type Registry struct {
	models []Model
	index  map[string]int // normalised Name and APIName -> position in models
}

// DefaultRegistry returns a fresh registry of the models the application
// ships with (those of the original).
func DefaultRegistry() *Registry { return NewRegistry(defaultModels...) }

// NewRegistry builds a registry from models, in that order. A later model
// with the same name replaces an earlier one.
func NewRegistry(models ...Model) *Registry {
	r := &Registry{index: make(map[string]int, 2*len(models))}
	for _, m := range models {
		key := normalise(m.Name)
		if i, ok := r.index[key]; ok {
			r.models[i] = m
		} else {
			r.index[key] = len(r.models)
			r.models = append(r.models, m)
		}
	}
	for i, m := range r.models {
		if m.APIName != "" {
			if _, taken := r.index[normalise(m.APIName)]; !taken {
				r.index[normalise(m.APIName)] = i
			}
		}
	}
	return r
}

// datedSuffix matches a snapshot suffix: "-20250929", "-2025-04-16", "-latest".
var datedSuffix = regexp.MustCompile(`-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$`)

func normalise(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// Lookup finds a model by its name or API name, ignoring case; a dated
// snapshot ("claude-sonnet-4-5-20250929", "o3-2025-04-16") or "-latest"
// alias resolves to its base model, and a provider prefix ("openai/o3",
// "groq/gpt-oss-20b") is tolerated.
func (r *Registry) Lookup(name string) (Model, bool) {
	if r == nil {
		return Model{}, false
	}
	key := normalise(name)
	candidates := []string{key, datedSuffix.ReplaceAllString(key, "")}
	if _, rest, ok := strings.Cut(key, "/"); ok {
		candidates = append(candidates, rest, datedSuffix.ReplaceAllString(rest, ""))
	}
	for _, c := range candidates {
		if i, ok := r.index[c]; ok {
			return r.models[i], true
		}
	}
	return Model{}, false
}

// Models returns a copy of the registry's models in registry order.
func (r *Registry) Models() []Model {
	if r == nil {
		return nil
	}
	return slices.Clone(r.models)
}

// Cost is the USD price of a call on model with in input and out output
// tokens: in/1000*input price + out/1000*output price; 0 for an unknown model.
func (r *Registry) Cost(model string, in, out int) float64 {
	m, ok := r.Lookup(model)
	if !ok {
		return 0
	}
	return m.Cost(in, out)
}

// Credits is what one query on model costs (its tier's credits); an unknown
// model costs as tier 1.
func (r *Registry) Credits(model string) int {
	if m, ok := r.Lookup(model); ok && m.Tier.Credits() > 0 {
		return m.Tier.Credits()
	}
	return Tier(1).Credits()
}

// reasoningName recognises reasoning models that are not in the registry.
var reasoningName = regexp.MustCompile(`^(o\d+(-|$)|gpt-5|gpt-oss|deepseek-r1|deepseek-reasoner)`)

// IsReasoning reports whether model is a reasoning model: the registry's
// flag when the model is known, otherwise a guess from its name (o1, o3,
// o4-mini, gpt-5*, gpt-oss*, deepseek-r1*).
func (r *Registry) IsReasoning(model string) bool {
	if m, ok := r.Lookup(model); ok {
		return m.Reasoning
	}
	return reasoningName.MatchString(stripProvider(normalise(model)))
}

// ClampTemperature returns the temperature to send: 1.0 for reasoning
// models (they accept nothing else), otherwise t clamped to 0..1 (NaN
// becomes 0).
func (r *Registry) ClampTemperature(model string, t float64) float64 {
	if r.IsReasoning(model) {
		return 1.0
	}
	switch {
	case math.IsNaN(t), t < 0:
		return 0
	case t > 1:
		return 1
	}
	return t
}

// Output-token caps per model family.
const (
	capReasoning = 100_000
	capGPT5      = 16_000
	capClaude4   = 64_000
	capClaude    = 8_192
	capGroq      = 32_768
	capGemini    = 65_535
	capDefault   = 4_096
)

// claude4 matches Claude 4 generation names: claude-sonnet-4-5,
// claude-opus-4-1, claude-haiku-4-5, claude-sonnet-4-20250514, claude-4-opus.
var claude4 = regexp.MustCompile(`^claude-((sonnet|opus|haiku)-4|4)([-.]|$)`)

// geminiLarge matches Gemini 2.5 and later (gemini-2.5-*, gemini-3-*).
var geminiLarge = regexp.MustCompile(`^gemini-(2\.5|[3-9])([-.]|$)`)

// MaxOutputTokens is the cap on output tokens for model, by family: gpt-5
// family 16,000; Claude 4 family 64,000; other Claude 8,192; Groq 32,768;
// Gemini 2.5 (and 3) 65,535; other reasoning models (o1, o3, ...) 100,000;
// anything else 4,096. The specific families come first so that a reasoning
// model of a known family gets its family's cap.
func (r *Registry) MaxOutputTokens(model string) int {
	name := stripProvider(normalise(model))
	provider := ""
	if m, ok := r.Lookup(model); ok {
		name, provider = normalise(m.Name), m.Provider
	}
	switch {
	case strings.HasPrefix(name, "gpt-5"):
		return capGPT5
	case claude4.MatchString(name):
		return capClaude4
	case strings.HasPrefix(name, "claude"):
		return capClaude
	case provider == ProviderGroq || strings.HasPrefix(normalise(model), "groq/"):
		return capGroq
	case geminiLarge.MatchString(name):
		return capGemini
	case r.IsReasoning(model):
		return capReasoning
	}
	return capDefault
}

// CapMaxTokens returns n capped to the model's MaxOutputTokens. n <= 0 means
// "no explicit limit" and is returned as 0 (the provider's default applies).
func (r *Registry) CapMaxTokens(model string, n int) int {
	if n <= 0 {
		return 0
	}
	return min(n, r.MaxOutputTokens(model))
}

func stripProvider(name string) string {
	if _, rest, ok := strings.Cut(name, "/"); ok {
		return rest
	}
	return name
}

// Providers returns the providers of the registry's models, in registry
// order, without repeats.
func (r *Registry) Providers() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range r.Models() {
		if !seen[m.Provider] {
			seen[m.Provider] = true
			out = append(out, m.Provider)
		}
	}
	return out
}
