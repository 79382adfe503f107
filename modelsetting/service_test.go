package modelsetting

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/secret"
)

type fakeProvider struct{ name, key string }

func (f fakeProvider) Name() string { return f.name }
func (f fakeProvider) Generate(context.Context, llm.Request) (*llm.Response, error) {
	return &llm.Response{}, nil
}

func TestModelSettings(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	box, err := secret.New(strings.Repeat("s", secret.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	st := New(Config{DB: db, Box: box, DefaultModel: "gpt-5-mini"})
	noSecret := New(Config{DB: db})
	u, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	vctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID})
	connect := func(provider, key string) (llm.Provider, error) {
		if key == "" {
			return fakeProvider{name: "server"}, nil
		}
		return fakeProvider{name: provider, key: key}, nil
	}
	st.connect = connect
	models := st.ForRun
	// Without settings: the default model at the default temperature,
	// clamped as the settings' is (a reasoning model takes only 1).
	for _, d := range []struct {
		model string
		temp  float64
	}{{"gpt-5-mini", 1}, {"gpt-4o-mini", DefaultTemperature}, {"o3", 1}} {
		svc := New(Config{DB: db, Box: box, DefaultModel: d.model})
		svc.connect = connect
		if mc, err := svc.ForRun(ctx, u.ID); err != nil || mc.Model != d.model || mc.Provider.Name() != "server" || mc.Temperature != d.temp {
			t.Fatalf("without settings, %s: %+v, %v; want temperature %v", d.model, mc, err, d.temp)
		}
	}

	tests := []struct {
		name    string
		svc     *Service
		in      Input
		code    errcode.Code
		field   string
		want    Settings
		runWith string // the provider the run connects to
	}{
		{name: "unknown provider", svc: st, in: Input{Provider: "acme", Model: "gpt-4o"}, code: errcode.BadUserInput, field: "provider"},
		{name: "model of another provider", svc: st, in: Input{Provider: "anthropic", Model: "gpt-4o"}, code: errcode.BadUserInput, field: "model"},
		{name: "unknown model", svc: st, in: Input{Provider: "openai", Model: "gpt-9"}, code: errcode.BadUserInput, field: "model"},
		{name: "zero max tokens", svc: st, in: Input{Provider: "openai", Model: "gpt-4o", MaxTokens: ptr(0)}, code: errcode.BadUserInput, field: "maxTokens"},
		{name: "key without SECRET_KEY", svc: noSecret, in: Input{Provider: "openai", Model: "gpt-4o", APIKey: ptr("sk-1")}, code: errcode.Unavailable, field: "apiKey"},
		{name: "clamped and capped", svc: st, in: Input{Provider: "OpenAI", Model: "GPT-4o", Temperature: ptr(1.7), MaxTokens: ptr(1_000_000)},
			want: Settings{Provider: "openai", Model: "gpt-4o", Temperature: 1, MaxTokens: 4096}, runWith: "server"},
		{name: "negative temperature", svc: st, in: Input{Provider: "openai", Model: "gpt-4o", Temperature: ptr(-1.0)},
			want: Settings{Provider: "openai", Model: "gpt-4o", Temperature: 0, MaxTokens: 4096}, runWith: "server"},
		{name: "own key for anthropic", svc: st, in: Input{Provider: "anthropic", Model: "claude-sonnet-4-6", Temperature: ptr(0.3), MaxTokens: ptr(200_000), APIKey: ptr(" sk-ant-1 ")},
			want: Settings{Provider: "anthropic", Model: "claude-sonnet-4-6", Temperature: 0.3, MaxTokens: 64_000, HasCustomKey: true}, runWith: "anthropic"},
		// The stored key is anthropic's: it is never sent to another provider.
		{name: "another provider without a key", svc: st, in: Input{Provider: "openai", Model: "o3"}, code: errcode.BadUserInput, field: "apiKey"},
		{name: "same provider keeps its key", svc: st, in: Input{Provider: "anthropic", Model: "claude-sonnet-4-6", Temperature: ptr(0.5)},
			want: Settings{Provider: "anthropic", Model: "claude-sonnet-4-6", Temperature: 0.5, MaxTokens: 64_000, HasCustomKey: true}, runWith: "anthropic"},
		{name: "key removed", svc: st, in: Input{Provider: "groq", Model: "gpt-oss-20b", APIKey: ptr("")},
			want: Settings{Provider: "groq", Model: "gpt-oss-20b", Temperature: 1, MaxTokens: 32_768}, runWith: "server"},
		{name: "reasoning", svc: st, in: Input{Provider: "openai", Model: "o3", Temperature: ptr(0.3)},
			want: Settings{Provider: "openai", Model: "o3", Temperature: 1, MaxTokens: 32_768}, runWith: "server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.svc.Update(vctx, u.ID, tt.in)
			if tt.code != "" {
				e, ok := errcode.As(err)
				if !ok || e.Code != tt.code || e.Field != tt.field {
					t.Fatalf("err = %v, want %s on %s", err, tt.code, tt.field)
				}
				return
			}
			if err != nil || *got != tt.want {
				t.Fatalf("Update = %+v, %v; want %+v", got, err, tt.want)
			}
			mc, err := models(ctx, u.ID)
			if err != nil || mc.Model != tt.want.Model || mc.MaxTokens != tt.want.MaxTokens || mc.Provider.Name() != tt.runWith {
				t.Fatalf("run model = %+v, %v", mc, err)
			}
			if tt.want.HasCustomKey && mc.Provider.(fakeProvider).key != "sk-ant-1" {
				t.Fatalf("the run got key %q", mc.Provider.(fakeProvider).key)
			}
		})
	}
	// A key stored under another SECRET_KEY fails the run with a clear error.
	if _, err := st.Update(vctx, u.ID, Input{Provider: "openai", Model: "gpt-4o", APIKey: ptr("sk-2")}); err != nil {
		t.Fatal(err)
	}
	other, _ := secret.New(strings.Repeat("o", secret.MinSecretLen))
	withOther := New(Config{DB: db, Box: other, DefaultModel: "gpt-5-mini"})
	withOther.connect = connect
	_, err = withOther.ForRun(ctx, u.ID)
	var ke *KeyError
	if !errors.As(err, &ke) || !strings.Contains(ke.Error(), "updateModelSettings") {
		t.Fatalf("run with an undecryptable key: %v", err)
	}
	// The sealed key is not the key.
	row, _ := db.User.Get(system(ctx), u.ID)
	if row.ModelAPIKey == nil || strings.Contains(string(*row.ModelAPIKey), "sk-2") {
		t.Fatal("the API key is stored in the clear")
	}
}

// openTestDB returns a migrated database: SQLite in a temporary directory,
// or a PostgreSQL database of the test's own.
func openTestDB(t *testing.T, postgres bool) *ent.Client {
	t.Helper()
	url := ""
	if postgres {
		url = databasetest.PostgresURL(t)
	}
	db, err := database.Open(context.Background(), url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db.Client
}

func ptr[T any](v T) *T { return &v }

// TestForRunFallback: a user whose settings choose a provider the server has
// no key for is served by OPENAI_BASE_URL when that is a custom
// OpenAI-compatible endpoint (as the default model is), and otherwise fails
// with ErrNotConfigured naming the variable to set.
func TestForRunFallback(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	tests := []struct {
		name    string
		baseURL string
		want    string // the provider of the run, "" for ErrNotConfigured
	}{
		{"a custom endpoint", "http://127.0.0.1:9/v1", llm.ProviderOpenAI},
		{"OpenAI's own endpoint", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := db.User.Create().Save(system(ctx))
			if err != nil {
				t.Fatal(err)
			}
			providers := llm.NewProviders(map[string]llm.Credentials{llm.ProviderOpenAI: {APIKey: "sk-server", BaseURL: tt.baseURL}}, llm.ProviderOpenAI, nil)
			st := New(Config{DB: db, DefaultModel: "gpt-5-mini", Providers: providers})
			vctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID})
			if _, err := st.Update(vctx, u.ID, Input{Provider: "anthropic", Model: "claude-sonnet-4-6"}); err != nil {
				t.Fatal(err)
			}
			mc, err := st.ForRun(ctx, u.ID)
			if tt.want == "" {
				if !errors.Is(err, llm.ErrNotConfigured) || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
					t.Fatalf("ForRun = %+v, %v; want not configured, naming ANTHROPIC_API_KEY", mc, err)
				}
				return
			}
			if err != nil || mc.Provider.Name() != tt.want || mc.Model != "claude-sonnet-4-6" {
				t.Fatalf("ForRun = %+v, %v; want %s serving claude-sonnet-4-6", mc, err, tt.want)
			}
		})
	}
}
