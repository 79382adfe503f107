//go:build ignore

// Command diff writes a new versioned migration for each dialect when the ent
// schema differs from what the existing migrations build. It replays the
// existing files on a scratch database: an in-memory SQLite, and a temporary
// schema of the PostgreSQL server at DIFF_POSTGRES_URL (default
// postgres://127.0.0.1:5432/test). Run through `make generate`.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log"
	neturl "net/url"
	"os"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/autoanalyst/autoanalyst/ent/migrate"
)

func main() {
	name := "changes"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	ctx := context.Background()
	if err := diffSQLite(ctx, name); err != nil {
		log.Fatalf("sqlite: %v", err)
	}
	if err := diffPostgres(ctx, name); err != nil {
		log.Fatalf("postgres: %v", err)
	}
}

func diff(ctx context.Context, db *sql.DB, dia, dir, name string) error {
	d, err := atlas.NewLocalDir(dir)
	if err != nil {
		return err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(dia, db),
		schema.WithDir(d),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dia),
		schema.WithFormatter(atlas.DefaultFormatter),
		schema.WithDropIndex(true),
		schema.WithDropColumn(true),
	)
	if err != nil {
		return err
	}
	return m.NamedDiff(ctx, name, migrate.Tables...)
}

func diffSQLite(ctx context.Context, name string) error {
	db, err := sql.Open("sqlite", "file:diff?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return diff(ctx, db, dialect.SQLite, "ent/migrate/migrations/sqlite", name)
}

func diffPostgres(ctx context.Context, name string) error {
	url := os.Getenv("DIFF_POSTGRES_URL")
	if url == "" {
		url = "postgres://127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	scratch := "atlas_diff_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+scratch); err != nil {
		return fmt.Errorf("create scratch database (is PostgreSQL running at %s?): %w", url, err)
	}
	defer admin.ExecContext(ctx, "DROP DATABASE "+scratch+" WITH (FORCE)")
	u, err := neturl.Parse(url)
	if err != nil {
		return err
	}
	u.Path = "/" + scratch
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer db.Close()
	return diff(ctx, db, dialect.Postgres, "ent/migrate/migrations/postgres", name)
}
