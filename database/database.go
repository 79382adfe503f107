package database

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	_ "modernc.org/sqlite"             // "sqlite" driver

	"github.com/autoanalyst/autoanalyst/ent"
	_ "github.com/autoanalyst/autoanalyst/ent/runtime" // schema hooks and privacy policies
)

// DB is an open database: the ent client and the connection under it.
// Safe for concurrent use.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
	// Location describes where the data lives, with no credentials (for logs).
	Location string
}

// Open connects to url: "postgres://..." or "postgresql://..." for
// PostgreSQL; otherwise (empty) a SQLite file autoanalyst.db under dataDir.
func Open(ctx context.Context, url, dataDir string) (*DB, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	if url != "" && !strings.HasPrefix(url, "sqlite://") && !strings.HasPrefix(url, "file:") {
		return nil, fmt.Errorf("DATABASE_URL: unsupported scheme (want postgres:// or empty for SQLite)")
	}
	path := filepath.Join(dataDir, "autoanalyst.db")
	if p, ok := strings.CutPrefix(url, "sqlite://"); ok {
		path = p
	} else if p, ok := strings.CutPrefix(url, "file:"); ok {
		path = p
	}
	return openSQLite(ctx, path)
}

// OpenSQLite opens (creating if needed) the SQLite database file at path.
// The special path ":memory:" gives a private in-memory database.
func openSQLite(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path
	if path == ":memory:" {
		dsn = "file:mem" + fmt.Sprint(time.Now().UnixNano()) + "?mode=memory&cache=shared"
	} else {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		dsn += "?"
	}
	sep := "&"
	if !strings.Contains(dsn, "?") {
		sep = "?"
	}
	// _time_format=sqlite stores times as "2006-01-02 15:04:05.999999999-07:00",
	// which SQLite's date functions read (the driver's default is Go's
	// String form, which they do not).
	dsn += sep + "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_txlock=immediate&_time_format=sqlite"
	if path != ":memory:" {
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(8)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	drv := entsql.OpenDB(dialect.SQLite, db)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dialect.SQLite, Location: "sqlite:" + path}, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	loc := redactURL(url)
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", loc, err)
	}
	drv := entsql.OpenDB(dialect.Postgres, db)
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Dialect: dialect.Postgres, Location: loc}, nil
}

// Close closes the client and the connection.
func (d *DB) Close() error { return d.Client.Close() }
