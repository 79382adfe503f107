package orchestrator

import (
	"context"
	"testing"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
)

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
