package database

import (
	"context"
	"strings"
	"testing"

	atlas "ariga.io/atlas/sql/migrate"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/usertemplatepreference"
)

// TestMigrationsKeepRows applies the first SQLite migration, writes rows,
// then the rest: the later migrations rebuild tables (SQLite cannot alter
// them), and must not delete the rows of the tables that refer to them.
func TestMigrationsKeepRows(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := loadDir(db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	files, err := all.Files()
	if err != nil || len(files) < 2 {
		t.Fatalf("%d migration files, %v", len(files), err)
	}
	first := &atlas.MemDir{}
	first.WriteFile(files[0].Name(), files[0].Bytes())
	sum, err := first.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	if err := atlas.WriteSumFile(first, sum); err != nil {
		t.Fatal(err)
	}
	if n, err := db.migrate(ctx, first); err != nil || n != 1 {
		t.Fatalf("first migration: %d, %v", n, err)
	}
	// Rows as the first schema has them (raw SQL: the client is newer).
	for _, q := range []string{
		`INSERT INTO users (id, created_at, updated_at, username, name, role, plan, is_guest) VALUES ('usr_1', datetime('now'), datetime('now'), 'u', 'u', 'USER', 'FREE', true)`,
		`INSERT INTO agent_templates (id, created_at, updated_at, template_name, display_name, description, prompt_template, icon_url, category, is_premium_only, variant_type, base_agent, is_active)
		 VALUES ('tpl_1', datetime('now'), datetime('now'), 'a_agent', 'A', '', 'p', '', 'Data Modelling', false, 'BOTH', '', true)`,
		`INSERT INTO user_template_preferences (id, created_at, updated_at, user_id, template_id, is_enabled, usage_count) VALUES ('tpr_1', datetime('now'), datetime('now'), 'usr_1', 'tpl_1', true, 3)`,
	} {
		if _, err := db.SQL.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[2], err)
		}
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	prefs, err := db.Client.UserTemplatePreference.Query().Where(usertemplatepreference.TemplateID("tpl_1")).
		All(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil || len(prefs) != 1 || prefs[0].UsageCount != 3 {
		t.Fatalf("preferences after the migrations: %v, %v", prefs, err)
	}
}
