package orchestrator

import (
	"context"
	"testing"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/modelsetting"
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

// modelsFunc is a Models of a test.
type modelsFunc func(ctx context.Context, userID string) (*modelsetting.Choice, error)

func (f modelsFunc) ForRun(ctx context.Context, userID string) (*modelsetting.Choice, error) {
	return f(ctx, userID)
}

// system is ctx with privacy checks off, as the service's own queries run.
func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}
