package orchestrator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
	"github.com/autoanalyst/autoanalyst/secret"
)

// TestStepModelsRefused checks that New refuses step models it cannot use.
func TestStepModelsRefused(t *testing.T) {
	p := llm.NewScripted()
	for name, sm := range map[string]map[string]StepModel{
		"unknown step": {"summarize": {Provider: p, Model: "gpt-5-nano"}},
		"no provider":  {"rater": {Model: "gpt-5-nano"}},
		"no model":     {"rater": {Provider: p}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(Config{StepModels: sm}); err == nil {
				t.Fatal("New accepted the step models")
			}
		})
	}
}

// TestUnusableOwnKey: a key stored under another SECRET_KEY fails the run
// with a clear error.
func TestUnusableOwnKey(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	box, err := secret.New(strings.Repeat("s", secret.MinSecretLen))
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	vctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID})
	st := modelsetting.New(modelsetting.Config{DB: db, Box: box, DefaultModel: "gpt-5-mini"})
	if _, err := st.Update(vctx, u.ID, modelsetting.Input{Provider: "openai", Model: "gpt-4o", APIKey: ptr("sk-2")}); err != nil {
		t.Fatal(err)
	}
	other, _ := secret.New(strings.Repeat("o", secret.MinSecretLen))
	s, err := New(Config{DB: db, Models: modelsetting.New(modelsetting.Config{DB: db, Box: other, DefaultModel: "gpt-5-mini"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.runModel(&runContext{run: &ent.Run{UserID: u.ID}, user: vctx})
	var re *runError
	if !errors.As(err, &re) || re.code != CodeModelNotConfigured || !strings.Contains(re.msg, "updateModelSettings") {
		t.Fatalf("run with an undecryptable key: %v", err)
	}
}

// TestRecordModel: a run records the temperature its calls send, none for a
// reasoning model (it takes none of the user's), with the default model as
// with the user's settings.
func TestRecordModel(t *testing.T) {
	db := openTestDB(t, false)
	ctx := context.Background()
	u, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	vctx := viewer.NewContext(ctx, &viewer.Viewer{UserID: u.ID})
	tests := []struct {
		name  string
		model string // the server's default model (the user has no settings)
		want  *float64
	}{
		{"reasoning default model", "gpt-5-mini", nil},
		{"reasoning o-series", "o3", nil},
		{"other model", "gpt-4o-mini", ptr(modelsetting.DefaultTemperature)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			models := modelsetting.New(modelsetting.Config{DB: db, DefaultModel: tt.model,
				Providers: llm.NewProviders(map[string]llm.Credentials{llm.ProviderOpenAI: {APIKey: "sk-test"}}, llm.ProviderOpenAI, nil)})
			s, err := New(Config{DB: db, Models: models})
			if err != nil {
				t.Fatal(err)
			}
			r, err := db.Run.Create().SetUserID(u.ID).SetKind("CHAT").Save(system(ctx))
			if err != nil {
				t.Fatal(err)
			}
			rc := &runContext{run: r, user: vctx}
			mc, err := s.runModel(rc)
			if err != nil {
				t.Fatal(err)
			}
			s.recordModel(rc, mc)
			got, err := db.Run.Get(system(ctx), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if (got.ModelTemperature == nil) != (tt.want == nil) || (tt.want != nil && *got.ModelTemperature != *tt.want) {
				t.Fatalf("recorded temperature %v, want %v", fmtPtr(got.ModelTemperature), fmtPtr(tt.want))
			}
		})
	}
}

func fmtPtr(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}
