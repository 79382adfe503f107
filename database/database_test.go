package database

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

// testDialects are the dialects the package's tests open: a SQLite file
// (no URL) and the test PostgreSQL.
var testDialects = []struct {
	name    string
	url     func(t testing.TB) string
	dialect string
}{
	{"sqlite", func(t testing.TB) string { return "" }, dialect.SQLite},
	{"postgres", databasetest.PostgresURL, dialect.Postgres},
}

func TestOpenAndMigrate(t *testing.T) {
	for _, tt := range testDialects {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			db, err := Open(ctx, tt.url(t), dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Dialect != tt.dialect {
				t.Fatalf("dialect = %s", db.Dialect)
			}
			n, err := db.Migrate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("no migration applied to an empty database")
			}
			// A second run applies nothing.
			if n, err := db.Migrate(ctx); err != nil || n != 0 {
				t.Fatalf("second migrate = %d, %v", n, err)
			}
			sys := privacy.DecisionContext(ctx, privacy.Allow)
			u, err := db.Client.User.Create().SetName("a").Save(sys)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Client.Chat.Create().SetUserID(u.ID).Save(sys); err != nil {
				t.Fatal(err)
			}
			// Foreign keys are enforced.
			if _, err := db.Client.Chat.Create().SetUserID("usr_missing").Save(sys); err == nil {
				t.Fatal("chat with a missing user was accepted")
			}
			if tt.dialect == dialect.SQLite {
				if _, err := os.Stat(filepath.Join(dir, "autoanalyst.db")); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	got := redactURL("postgres://bob:secret@db:5432/x?password=secret")
	if got != "postgres://bob@db:5432/x" {
		t.Fatalf("redactURL = %q", got)
	}
}
