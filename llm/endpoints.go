package llm

// compatibleBaseURLs are the OpenAI-compatible chat-completions endpoints of
// the registry's providers.
var compatibleBaseURLs = map[string]string{
	ProviderOpenAI:    DefaultOpenAIBaseURL,
	ProviderAnthropic: "https://api.anthropic.com/v1",
	ProviderGroq:      "https://api.groq.com/openai/v1",
	ProviderGemini:    "https://generativelanguage.googleapis.com/v1beta/openai",
}

// CompatibleBaseURL returns the OpenAI-compatible endpoint of a provider
// ("openai", "anthropic", "groq", "gemini"), for NewOpenAI's BaseURL, and
// false for an unknown provider.
func CompatibleBaseURL(provider string) (string, bool) {
	u, ok := compatibleBaseURLs[provider]
	return u, ok
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
