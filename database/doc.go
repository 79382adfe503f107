// Package database opens the ent client on SQLite (the embedded default) or
// PostgreSQL, and applies the versioned migrations of ent/migrate/migrations.
package database
