package llm_test

import (
	"math"
	"testing"

	"github.com/autoanalyst/autoanalyst/llm"
)

func TestRegistryModels(t *testing.T) {
	want := map[string]string{
		"gpt-5-nano": "openai", "gpt-5-mini": "openai", "gpt-5": "openai", "gpt-5.2": "openai",
		"o3": "openai", "gpt-4o": "openai", "gpt-4o-mini": "openai",
		"claude-haiku-4-5": "anthropic", "claude-sonnet-4-5": "anthropic", "claude-sonnet-4-6": "anthropic",
		"claude-opus-4-5": "anthropic", "claude-opus-4-6": "anthropic",
		"gpt-oss-20b": "groq", "gpt-oss-120b": "groq", "deepseek-r1-distill-llama-70b": "groq",
		"gemini-2.5-pro": "gemini", "gemini-3-flash": "gemini", "gemini-3-pro": "gemini",
	}
	reg := llm.DefaultRegistry()
	models := reg.Models()
	if len(models) != len(want) {
		t.Errorf("%d models, want %d", len(models), len(want))
	}
	for _, m := range models {
		if want[m.Name] != m.Provider {
			t.Errorf("%s: provider %q, want %q", m.Name, m.Provider, want[m.Name])
		}
		if m.DisplayName == "" || m.ContextWindow <= 0 || m.InputPer1K <= 0 || m.OutputPer1K <= 0 {
			t.Errorf("%s: incomplete %+v", m.Name, m)
		}
		if m.Tier < 1 || m.Tier > 5 {
			t.Errorf("%s: tier %d", m.Name, m.Tier)
		}
	}

	// Models returns a copy, and each DefaultRegistry is independent.
	models[0].InputPer1K = 999
	if m, _ := reg.Lookup(models[0].Name); m.InputPer1K == 999 {
		t.Error("Models() exposes the registry's storage")
	}
	if llm.DefaultRegistry() == reg {
		t.Error("DefaultRegistry returned a shared instance")
	}
}

func TestRegistryLookup(t *testing.T) {
	reg := llm.DefaultRegistry()
	tests := []struct {
		name string
		want string // "" = not found
	}{
		{"claude-sonnet-4-6", "claude-sonnet-4-6"},
		{"Claude-Sonnet-4-6", "claude-sonnet-4-6"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"o3-2025-04-16", "o3"},
		{"openai/gpt-oss-20b", "gpt-oss-20b"},
		{"groq/gpt-oss-120b", "gpt-oss-120b"},
		{"gemini-3-pro-preview", "gemini-3-pro"},
		{"gpt-5.2", "gpt-5.2"},
		{"gpt-4", ""},
		{"", ""},
	}
	for _, tc := range tests {
		m, ok := reg.Lookup(tc.name)
		if ok != (tc.want != "") || m.Name != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.name, m.Name, ok, tc.want)
		}
	}
}

func TestRegistryCost(t *testing.T) {
	reg := llm.DefaultRegistry()
	tests := []struct {
		model   string
		in, out int
		want    float64
	}{
		{"claude-sonnet-4-6", 1000, 1000, 0.003 + 0.015},
		{"claude-sonnet-4-6", 2500, 400, 2.5*0.003 + 0.4*0.015},
		{"gpt-5-nano", 1_000_000, 1_000_000, 0.05 + 0.4},
		{"gpt-5-nano", 10, 0, 10.0 / 1000 * 0.00005},
		{"gpt-5-nano", 0, 0, 0},
		{"unknown-model", 1000, 1000, 0},
	}
	for _, tc := range tests {
		if got := reg.Cost(tc.model, tc.in, tc.out); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Cost(%s, %d, %d) = %g, want %g", tc.model, tc.in, tc.out, got, tc.want)
		}
	}
	m, _ := reg.Lookup("claude-sonnet-4-6")
	if m.InputPer1K != 0.003 || m.OutputPer1K != 0.015 {
		t.Errorf("claude-sonnet-4-6 prices %v/%v", m.InputPer1K, m.OutputPer1K)
	}
	m, _ = reg.Lookup("gpt-5-nano")
	if m.InputPer1K != 0.00005 || m.OutputPer1K != 0.0004 {
		t.Errorf("gpt-5-nano prices %v/%v", m.InputPer1K, m.OutputPer1K)
	}
}

func TestTierCredits(t *testing.T) {
	for tier, want := range map[llm.Tier]int{0: 0, 1: 1, 2: 3, 3: 5, 4: 20, 5: 50, 6: 0} {
		if got := tier.Credits(); got != want {
			t.Errorf("Tier(%d).Credits() = %d, want %d", tier, got, want)
		}
	}
	reg := llm.DefaultRegistry()
	if got := reg.Credits("claude-opus-4-6"); got != 50 {
		t.Errorf("opus credits = %d", got)
	}
	if got := reg.Credits("no-such-model"); got != 1 {
		t.Errorf("unknown model credits = %d, want 1", got)
	}
}

func TestClampTemperature(t *testing.T) {
	reg := llm.DefaultRegistry()
	tests := []struct {
		model string
		in    float64
		want  float64
	}{
		{"gpt-4o", 0.7, 0.7},
		{"gpt-4o", 1.5, 1},
		{"gpt-4o", -0.2, 0},
		{"gpt-4o", math.NaN(), 0},
		{"claude-sonnet-4-6", 0, 0},
		{"o3", 0.2, 1},
		{"gpt-5-mini", 0, 1},
		{"gpt-oss-120b", 0.5, 1},
		{"deepseek-r1-distill-llama-70b", 0.5, 1},
		{"o4-mini", 0.3, 1},    // unknown, reasoning by name
		{"llama3.2", 0.3, 0.3}, // unknown, not reasoning
	}
	for _, tc := range tests {
		if got := reg.ClampTemperature(tc.model, tc.in); got != tc.want {
			t.Errorf("ClampTemperature(%s, %v) = %v, want %v", tc.model, tc.in, got, tc.want)
		}
	}
}

func TestCapMaxTokens(t *testing.T) {
	reg := llm.DefaultRegistry()
	tests := []struct {
		model string
		in    int
		want  int
	}{
		{"o3", 1_000_000, 100_000},
		{"o1-mini", 1_000_000, 100_000},
		{"gpt-5", 1_000_000, 16_000},
		{"gpt-5.2", 1_000_000, 16_000},
		{"gpt-5-nano", 1_000, 1_000},
		{"claude-sonnet-4-6", 1_000_000, 64_000},
		{"claude-opus-4-5", 1_000_000, 64_000},
		{"claude-haiku-4-5", 1_000_000, 64_000},
		{"claude-sonnet-4-20250514", 1_000_000, 64_000},
		{"claude-3-5-haiku-latest", 1_000_000, 8_192},
		{"claude-3-7-sonnet-latest", 1_000_000, 8_192},
		{"gpt-oss-20b", 1_000_000, 32_768},
		{"deepseek-r1-distill-llama-70b", 1_000_000, 32_768},
		{"groq/llama-3.3-70b-versatile", 1_000_000, 32_768},
		{"gemini-2.5-pro", 1_000_000, 65_535},
		{"gemini-3-pro", 1_000_000, 65_535},
		{"gpt-4o", 1_000_000, 4_096},
		{"gpt-4o-mini", 2_000, 2_000},
		{"whatever", 1_000_000, 4_096},
		{"gpt-4o", 0, 0},
		{"gpt-4o", -5, 0},
	}
	for _, tc := range tests {
		if got := reg.CapMaxTokens(tc.model, tc.in); got != tc.want {
			t.Errorf("CapMaxTokens(%s, %d) = %d, want %d", tc.model, tc.in, got, tc.want)
		}
	}
}

func TestNewRegistryReplaces(t *testing.T) {
	reg := llm.NewRegistry(
		llm.Model{Provider: "openai", Name: "m", InputPer1K: 1, Tier: 1},
		llm.Model{Provider: "openai", Name: "M", InputPer1K: 2, Tier: 2},
	)
	if n := len(reg.Models()); n != 1 {
		t.Fatalf("%d models, want 1", n)
	}
	if got := reg.Cost("m", 1000, 0); got != 2 {
		t.Errorf("Cost = %v, want the later model's price", got)
	}
	var nilReg *llm.Registry
	if _, ok := nilReg.Lookup("gpt-4o"); ok || nilReg.Cost("gpt-4o", 1, 1) != 0 {
		t.Error("nil registry should know no model")
	}
}
