package catalog

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/errcode"
)

func TestDefaultTemplateConfig(t *testing.T) {
	c, err := DefaultTemplateConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ premium, def bool }{
		"preprocessing_agent": {false, true}, "statistical_analytics_agent": {false, true},
		"sk_learn_agent": {false, true}, "data_viz_agent": {false, true}, "basic_qa_agent": {false, false},
		"feature_engineering_agent": {true, false}, "time_series_agent": {true, false},
	}
	if len(c.Templates) != len(want) {
		t.Fatalf("%d templates, want %d", len(c.Templates), len(want))
	}
	for _, s := range c.Templates {
		w, ok := want[s.Name]
		if !ok || s.Premium != w.premium || s.DefaultEnabled != w.def || s.Prompt == "" || s.DisplayName == "" {
			t.Errorf("template %+v", s)
		}
	}
	if len(c.Remove) != 1 || c.Remove[0] != "polars_agent" {
		t.Errorf("remove = %v", c.Remove)
	}
}

func TestParseTemplateConfig(t *testing.T) {
	const ok = "templates:\n  - name: a_agent\n    prompt: p\n    category: Data Modelling\n"
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"minimal", ok, ""},
		{"variant defaults to BOTH", ok, ""},
		{"name not an identifier", "templates:\n  - name: 1agent\n    prompt: p\n    category: Data Modelling\n", "Python identifier"},
		{"keyword", "templates:\n  - name: class\n    prompt: p\n    category: Data Modelling\n", "Python identifier"},
		{"twice", ok + "  - name: a_agent\n    prompt: p\n    category: Data Modelling\n", "twice"},
		{"no prompt", "templates:\n  - name: a\n    category: Data Modelling\n", "prompt"},
		{"unknown category", "templates:\n  - name: a\n    prompt: p\n    category: Cooking\n", "category"},
		{"bad variant", "templates:\n  - name: a\n    prompt: p\n    category: Data Modelling\n    variant: SOME\n", "variant"},
		{"unknown key", "templates:\n  - name: a\n    prompt: p\n    category: Data Modelling\n    premum: true\n", "premum"},
		{"kept and removed", ok + "remove: [a_agent]\n", "also listed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseTemplateConfig([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Templates[0].Variant != "BOTH" || c.Templates[0].DisplayName != "a_agent" {
					t.Fatalf("defaults not applied: %+v", c.Templates[0])
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsIdentifier(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"my_agent", true}, {"_x1", true}, {"A", true},
		{"", false}, {"1a", false}, {"my-agent", false}, {"my agent", false}, {"None", false},
		{"écrire", false}, {strings.Repeat("a", 100), true}, {strings.Repeat("a", 101), false},
	}
	for _, tt := range tests {
		if got := isIdentifier(tt.in); got != tt.want {
			t.Errorf("isIdentifier(%q) = %v", tt.in, got)
		}
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

func TestTemplatePreferences(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			testTemplatePreferences(t, openTestDB(t, pg))
		})
	}
}

func testTemplatePreferences(t *testing.T, db *ent.Client) {
	ctx := context.Background()
	tpl := New(db)
	cfg, err := DefaultTemplateConfig()
	if err != nil {
		t.Fatal(err)
	}
	if res, err := tpl.Sync(ctx, cfg); err != nil || res.Created != 7 {
		t.Fatalf("first sync = %+v, %v", res, err)
	}
	if res, err := tpl.Sync(ctx, cfg); err != nil || res != (SyncResult{}) {
		t.Fatalf("second sync = %+v, %v", res, err)
	}
	u, err := db.User.Create().Save(system(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if err := tpl.EnableDefaults(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	free := &viewer.Viewer{UserID: u.ID, Plan: "FREE"}
	vctx := viewer.NewContext(ctx, free)
	ids := map[string]string{}
	all, err := tpl.Query(vctx, u.ID, VariantAll, "").All(vctx)
	if err != nil {
		t.Fatal(err)
	}
	enabled := 0
	for _, a := range all {
		ids[a.Name] = a.ID
		if on, _ := tpl.Enabled(vctx, u.ID, a); on {
			enabled++
		}
	}
	if enabled != 4 {
		t.Fatalf("a new user has %d templates enabled, want the 4 core agents", enabled)
	}
	planner, _ := tpl.Query(vctx, u.ID, VariantPlanner, "").Count(vctx)
	individual, _ := tpl.Query(vctx, u.ID, VariantIndividual, "").Count(vctx)
	modelling, _ := tpl.Query(vctx, u.ID, VariantAll, CategoryModelling).Count(vctx)
	if planner != 6 || individual != 7 || modelling != 3 {
		t.Fatalf("planner %d, individual %d, modelling %d", planner, individual, modelling)
	}

	core := []string{"preprocessing_agent", "statistical_analytics_agent", "sk_learn_agent", "data_viz_agent"}
	off := func(names ...string) []Preference {
		var ps []Preference
		for _, n := range names {
			ps = append(ps, Preference{TemplateID: ids[n]})
		}
		return ps
	}
	var customs []string
	for i := range 7 {
		c, err := tpl.Create(vctx, free, TemplateInput{Name: fmt.Sprintf("custom_%d", i), Prompt: ptr("p"), Category: ptr(CategoryModelling)})
		if err != nil {
			t.Fatal(err)
		}
		customs = append(customs, c.ID)
	}
	// 4 core + 7 custom: the 7th custom one is created disabled (10 enabled).
	if n, _ := countEnabled(system(ctx), db, u.ID); n != 10 {
		t.Fatalf("%d enabled after creating 7 custom templates, want 10", n)
	}
	disable := func(ids []string) []Preference {
		var ps []Preference
		for _, id := range ids {
			ps = append(ps, Preference{TemplateID: id})
		}
		return ps
	}
	tests := []struct {
		name  string
		prefs []Preference
		field string
		code  errcode.Code
		errAt string
	}{
		{"disable the last", append(off(core...), disable(customs[:6])...), "input", errcode.BadUserInput, "input"},
		{"11th", []Preference{{TemplateID: customs[6], Enabled: true}}, "", errcode.LimitExceeded, "templateID"},
		{"premium for FREE", []Preference{{TemplateID: ids["time_series_agent"], Enabled: true}}, "input", errcode.PremiumRequired, "input[0].templateID"},
		{"unknown", []Preference{{TemplateID: "tpl_nope", Enabled: true}}, "input", errcode.NotFound, "input[0].templateID"},
		{"twice", []Preference{{TemplateID: customs[0]}, {TemplateID: customs[0]}}, "input", errcode.BadUserInput, "input[1].templateID"},
		{"swap keeps 10", []Preference{{TemplateID: customs[0]}, {TemplateID: customs[6], Enabled: true}}, "input", "", ""},
		{"disable one", []Preference{{TemplateID: customs[1]}}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := countEnabled(system(ctx), db, u.ID)
			got, err := tpl.SetEnabled(vctx, free, tt.prefs, tt.field)
			if tt.code == "" {
				if err != nil || len(got) != len(tt.prefs) {
					t.Fatalf("SetEnabled = %v, %v", got, err)
				}
				return
			}
			e, ok := errcode.As(err)
			if !ok || e.Code != tt.code || e.Field != tt.errAt {
				t.Fatalf("err = %#v, want %s on %s", err, tt.code, tt.errAt)
			}
			if after, _ := countEnabled(system(ctx), db, u.ID); after != before {
				t.Fatalf("a refused change changed the preferences: %d enabled, was %d", after, before)
			}
		})
	}
	pro := &viewer.Viewer{UserID: u.ID, Plan: "PRO"}
	if _, err := tpl.SetEnabled(vctx, pro, []Preference{{TemplateID: ids["time_series_agent"], Enabled: true}}, ""); err != nil {
		t.Fatalf("premium for PRO: %v", err)
	}

	// Use counts are global and per user.
	if err := tpl.RecordUse(ctx, u.ID, "data_viz_agent"); err != nil {
		t.Fatal(err)
	}
	other, _ := db.User.Create().Save(system(ctx))
	if err := tpl.RecordUse(ctx, other.ID, "data_viz_agent"); err != nil {
		t.Fatal(err)
	}
	if viz, _ := db.AgentTemplate.Get(system(ctx), ids["data_viz_agent"]); viz.UsageCount != 2 {
		t.Fatalf("usage count %d, want 2", viz.UsageCount)
	}
	// A user with no template enabled (only a use counted) gets the defaults.
	if err := tpl.EnableDefaults(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := countEnabled(system(ctx), db, other.ID); n != 4 {
		t.Fatalf("EnableDefaults for a user with only a use counted: %d enabled", n)
	}
	if err := tpl.EnableDefaults(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := countEnabled(system(ctx), db, u.ID); n != 10 {
		t.Fatalf("EnableDefaults changed a user's choice: %d enabled", n)
	}
	// The other user sees the built-in templates, not u's custom ones.
	octx := viewer.NewContext(ctx, &viewer.Viewer{UserID: other.ID})
	if n, _ := tpl.Query(octx, other.ID, VariantAll, "").Count(octx); n != 7 {
		t.Fatalf("another user sees %d templates, want the 7 built-in ones", n)
	}
	if _, err := tpl.Update(octx, &viewer.Viewer{UserID: other.ID}, customs[0], TemplateInput{Prompt: ptr("mine")}); errcode.Of(err) != errcode.NotFound {
		t.Fatalf("another user's update: %v", err)
	}
	if _, err := tpl.Update(vctx, free, ids["data_viz_agent"], TemplateInput{Prompt: ptr("mine")}); errcode.Of(err) != errcode.BadUserInput {
		t.Fatalf("update of a built-in template: %v", err)
	}
	if _, err := tpl.Create(vctx, free, TemplateInput{Name: "data_viz_agent", Prompt: ptr("p"), Category: ptr(CategoryModelling)}); errcode.Of(err) != errcode.BadUserInput {
		t.Fatalf("custom template named like a built-in one: %v", err)
	}

	// remove deletes a built-in template with its preferences.
	cfg.Remove = []string{"time_series_agent"}
	cfg.Templates = cfg.Templates[:len(cfg.Templates)-1]
	if res, err := tpl.Sync(ctx, cfg); err != nil || res.Removed != 1 {
		t.Fatalf("sync with remove = %+v, %v", res, err)
	}
	if n, _ := db.AgentTemplate.Query().Where(agenttemplate.Name("time_series_agent")).Count(system(ctx)); n != 0 {
		t.Fatal("removed template still there")
	}
}

func ptr[T any](v T) *T { return &v }
