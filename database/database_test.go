package database

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

// PostgresURL returns a fresh, empty PostgreSQL database for a test, dropped
// when the test ends. It skips the test when PostgreSQL is unreachable, unless
// CI=true, where it fails.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", base, err)
	}
	name := fmt.Sprintf("autoanalyst_test_%d", rand.Uint64())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

func TestOpenAndMigrate(t *testing.T) {
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		dialect string
	}{
		{"sqlite", func(t *testing.T) string { return "" }, dialect.SQLite},
		{"postgres", postgresURL, dialect.Postgres},
	}
	for _, tt := range tests {
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
