// Package databasetest gives tests a PostgreSQL database of their own.
package databasetest

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx database/sql driver
)

// DefaultPostgresURL is the server tests use when TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://127.0.0.1:5432/test?sslmode=disable"

// PostgresURL creates an empty database on the test server (TEST_POSTGRES_URL,
// default DefaultPostgresURL), drops it when the test ends, and returns its
// URL. When the server is unreachable the test is skipped, or fails when the
// environment variable CI is "true", so that nothing silently stops being
// tested there. PostgresURL is safe for concurrent use.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_POSTGRES_URL")
	if base == "" {
		base = DefaultPostgresURL
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
	name := fmt.Sprintf("autoanalyst_test_%016x", rand.Uint64())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}
