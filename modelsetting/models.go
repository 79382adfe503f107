package modelsetting

import "strings"

// Model is a model of the registry, as users choose among them.
type Model struct {
	// Provider is the provider's name: "openai", "anthropic", "groq", ...
	Provider      string
	Name          string
	DisplayName   string
	ContextWindow int
	// InputPer1K and OutputPer1K are USD per 1,000 tokens.
	InputPer1K  float64
	OutputPer1K float64
	Tier        int
	// Credits is what one query on the model costs.
	Credits   int
	Reasoning bool
	// MaxOutputTokens is the most max tokens settings may ask of the model.
	MaxOutputTokens int
}

// Models lists the registry's models: all of them when provider is "",
// else those of provider (in any case).
func (s *Service) Models(provider string) []Model {
	var out []Model
	for _, m := range s.reg.Models() {
		if provider != "" && !strings.EqualFold(provider, m.Provider) {
			continue
		}
		out = append(out, Model{
			Provider: m.Provider, Name: m.Name, DisplayName: m.DisplayName, ContextWindow: m.ContextWindow,
			InputPer1K: m.InputPer1K, OutputPer1K: m.OutputPer1K, Tier: int(m.Tier),
			Credits: m.Credits(), Reasoning: m.Reasoning, MaxOutputTokens: s.reg.MaxOutputTokens(m.Name),
		})
	}
	return out
}
