package llm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// TestProviders sends each model to its provider's endpoint, with that
// provider's key and protocol.
func TestProviders(t *testing.T) {
	answer := func(req llmtest.ChatRequest) llmtest.Reply { return llmtest.Text("from " + req.Model) }
	servers := map[string]*llmtest.Server{}
	for name, mk := range map[string]func() *llmtest.Server{
		"openai":    func() *llmtest.Server { return llmtest.NewOpenAIServer(t, answer) },
		"groq":      func() *llmtest.Server { return llmtest.NewOpenAIServer(t, answer) },
		"gemini":    func() *llmtest.Server { return llmtest.NewOpenAIServer(t, answer) },
		"ollama":    func() *llmtest.Server { return llmtest.NewOpenAIServer(t, answer) },
		"anthropic": func() *llmtest.Server { return llmtest.NewAnthropicServer(t, answer) },
	} {
		servers[name] = mk()
	}
	creds := map[string]llm.Credentials{}
	for name, s := range servers {
		key := "key-" + name
		if name == "ollama" {
			key = ""
		}
		creds[name] = llm.Credentials{APIKey: key, BaseURL: s.BaseURL()}
	}
	ps := llm.NewProviders(creds, "ollama", nil)
	cases := []struct {
		model, provider, apiModel string
	}{
		{"gpt-5-mini", "openai", "gpt-5-mini"},
		{"claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6"},
		{"gpt-oss-20b", "groq", "openai/gpt-oss-20b"},
		{"gemini-2.5-pro", "gemini", "gemini-2.5-pro"},
		{"llama3.2", "ollama", "llama3.2"},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			p, err := ps.For(tc.model)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Generate(context.Background(), llm.Request{Model: tc.model, Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
			if err != nil {
				t.Fatal(err)
			}
			s := servers[tc.provider]
			req := s.LastRequest()
			if p.Name() != tc.provider || resp.Usage.Provider != tc.provider || s.Count() != 1 || req.Model != tc.apiModel || resp.Content != "from "+tc.apiModel {
				t.Fatalf("provider %s, usage %+v, request %+v, content %q", p.Name(), resp.Usage, req, resp.Content)
			}
			if want := creds[tc.provider].APIKey; want != "" && req.APIKey() != want {
				t.Fatalf("key %q, want %q", req.APIKey(), want)
			}
		})
	}
	t.Run("a provider without credentials names its variable", func(t *testing.T) {
		_, err := llm.NewProviders(map[string]llm.Credentials{}, "openai", nil).For("claude-haiku-4-5")
		if !errors.Is(err, llm.ErrNotConfigured) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a custom OpenAI-compatible endpoint serves unconfigured providers' models", func(t *testing.T) {
		ps := llm.NewProviders(map[string]llm.Credentials{"openai": creds["groq"]}, "openai", nil)
		p, err := ps.For("gpt-oss-120b")
		if err != nil || p.Name() != "openai" {
			t.Fatalf("provider %v, err %v", p, err)
		}
	})
	t.Run("a user's provider without a key", func(t *testing.T) {
		tests := []struct {
			name     string
			openai   llm.Credentials
			provider string
			want     string // the provider that serves it, "" for ErrNotConfigured
		}{
			{"configured", llm.Credentials{APIKey: "k", BaseURL: creds["groq"].BaseURL}, "openai", "openai"},
			{"at a custom OpenAI-compatible endpoint", llm.Credentials{APIKey: "k", BaseURL: creds["groq"].BaseURL}, "anthropic", "openai"},
			{"at OpenAI's own endpoint", llm.Credentials{APIKey: "k"}, "anthropic", ""},
			{"at OpenAI's own endpoint, named", llm.Credentials{APIKey: "k", BaseURL: llm.DefaultOpenAIBaseURL}, "anthropic", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := llm.NewProviders(map[string]llm.Credentials{"openai": tt.openai}, "openai", nil).Serving(tt.provider)
				if tt.want == "" {
					if !errors.Is(err, llm.ErrNotConfigured) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
						t.Fatalf("provider %v, err %v; want not configured, naming ANTHROPIC_API_KEY", p, err)
					}
					return
				}
				if err != nil || p.Name() != tt.want {
					t.Fatalf("provider %v, err %v; want %s", p, err, tt.want)
				}
			})
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		if _, err := llm.NewProvider("bard", llm.Credentials{APIKey: "k"}); err == nil || !strings.Contains(err.Error(), `"bard"`) {
			t.Fatalf("err = %v", err)
		}
	})
}
