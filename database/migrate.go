package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	atlas "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"

	"github.com/autoanalyst/autoanalyst/ent/migrate/migrations"
)

// revisionTable records which migration files were applied.
const revisionTable = "atlas_schema_revisions"

// Migrate applies the pending versioned migrations and reports how many files
// it applied. On PostgreSQL it holds an advisory lock so that several
// processes starting at once apply each file once.
func (d *DB) Migrate(ctx context.Context) (int, error) {
	dir, err := loadDir(d.Dialect)
	if err != nil {
		return 0, err
	}
	return d.migrate(ctx, dir)
}

// migrate applies the pending migrations of dir.
func (d *DB) migrate(ctx context.Context, dir *atlas.MemDir) (int, error) {
	var err error
	if d.Dialect == dialect.Postgres {
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(hashtext('autoanalyst_migrate'))"); err != nil {
			return 0, fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('autoanalyst_migrate'))")
	}
	rrw := &revisions{db: d.SQL, dialect: d.Dialect}
	if err := rrw.init(ctx); err != nil {
		return 0, err
	}
	var drv atlas.Driver
	switch d.Dialect {
	case dialect.Postgres:
		drv, err = postgres.Open(d.SQL)
	default:
		drv, err = sqlite.Open(d.SQL)
	}
	if err != nil {
		return 0, fmt.Errorf("migrate: open driver: %w", err)
	}
	ex, err := atlas.NewExecutor(drv, dir, rrw)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	pending, err := ex.Pending(ctx)
	if errors.Is(err, atlas.ErrNoPendingFiles) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for _, f := range pending {
		if err := ex.Execute(ctx, f); err != nil {
			return 0, fmt.Errorf("migrate: apply %s: %w", f.Name(), err)
		}
	}
	return len(pending), nil
}

func loadDir(dia string) (*atlas.MemDir, error) {
	sub := "sqlite"
	if dia == dialect.Postgres {
		sub = "postgres"
	}
	entries, err := fs.ReadDir(migrations.FS, sub)
	if err != nil {
		return nil, fmt.Errorf("migrate: read embedded migrations: %w", err)
	}
	dir := &atlas.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, path.Join(sub, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

// revisions stores atlas revisions in a table of the same database.
type revisions struct {
	db      *sql.DB
	dialect string
	schema  string // PostgreSQL: the schema the table lives in
}

func (r *revisions) q(s string) string {
	if r.dialect != dialect.Postgres {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			out = append(out, fmt.Sprintf("$%d", n)...)
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func (r *revisions) init(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+revisionTable+` (
		version VARCHAR(64) PRIMARY KEY,
		data TEXT NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("migrate: create %s: %w", revisionTable, err)
	}
	if r.dialect == dialect.Postgres {
		if err := r.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&r.schema); err != nil {
			return fmt.Errorf("migrate: current schema: %w", err)
		}
	}
	return nil
}

// Ident implements atlas.RevisionReadWriter.
func (r *revisions) Ident() *atlas.TableIdent {
	return &atlas.TableIdent{Name: revisionTable, Schema: r.schema}
}

type storedRevision struct {
	Version         string        `json:"version"`
	Description     string        `json:"description"`
	Type            uint          `json:"type"`
	Applied         int           `json:"applied"`
	Total           int           `json:"total"`
	ExecutedAt      time.Time     `json:"executedAt"`
	ExecutionTime   time.Duration `json:"executionTime"`
	Error           string        `json:"error,omitempty"`
	ErrorStmt       string        `json:"errorStmt,omitempty"`
	Hash            string        `json:"hash"`
	PartialHashes   []string      `json:"partialHashes,omitempty"`
	OperatorVersion string        `json:"operatorVersion,omitempty"`
}

// ReadRevisions implements atlas.RevisionReadWriter.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*atlas.Revision, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT data FROM `+revisionTable+` ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*atlas.Revision
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		rev, err := decodeRevision(data)
		if err != nil {
			return nil, err
		}
		out = append(out, rev)
	}
	return out, rows.Err()
}

// ReadRevision implements atlas.RevisionReadWriter.
func (r *revisions) ReadRevision(ctx context.Context, v string) (*atlas.Revision, error) {
	var data string
	err := r.db.QueryRowContext(ctx, r.q(`SELECT data FROM `+revisionTable+` WHERE version = ?`), v).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, atlas.ErrRevisionNotExist
	}
	if err != nil {
		return nil, err
	}
	return decodeRevision(data)
}

// WriteRevision implements atlas.RevisionReadWriter.
func (r *revisions) WriteRevision(ctx context.Context, rev *atlas.Revision) error {
	if rev.ExecutedAt.IsZero() {
		rev.ExecutedAt = time.Now()
	}
	b, err := json.Marshal(storedRevision{
		Version: rev.Version, Description: rev.Description, Type: uint(rev.Type),
		Applied: rev.Applied, Total: rev.Total, ExecutedAt: rev.ExecutedAt,
		ExecutionTime: rev.ExecutionTime, Error: rev.Error, ErrorStmt: rev.ErrorStmt,
		Hash: rev.Hash, PartialHashes: rev.PartialHashes, OperatorVersion: rev.OperatorVersion,
	})
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, r.q(`INSERT INTO `+revisionTable+` (version, data) VALUES (?, ?)
		ON CONFLICT (version) DO UPDATE SET data = excluded.data`), rev.Version, string(b))
	return err
}

// DeleteRevision implements atlas.RevisionReadWriter.
func (r *revisions) DeleteRevision(ctx context.Context, v string) error {
	_, err := r.db.ExecContext(ctx, r.q(`DELETE FROM `+revisionTable+` WHERE version = ?`), v)
	return err
}

func decodeRevision(data string) (*atlas.Revision, error) {
	var s storedRevision
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, fmt.Errorf("migrate: decode revision: %w", err)
	}
	return &atlas.Revision{
		Version: s.Version, Description: s.Description, Type: atlas.RevisionType(s.Type),
		Applied: s.Applied, Total: s.Total, ExecutedAt: s.ExecutedAt,
		ExecutionTime: s.ExecutionTime, Error: s.Error, ErrorStmt: s.ErrorStmt,
		Hash: s.Hash, PartialHashes: s.PartialHashes, OperatorVersion: s.OperatorVersion,
	}, nil
}
