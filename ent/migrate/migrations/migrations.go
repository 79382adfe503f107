// Package migrations embeds the versioned migrations (Atlas format), one
// directory per dialect. New files are written by `make generate`
// (ent/migrate/diff.go); never edit an applied file.
package migrations

import "embed"

// FS holds sqlite/ and postgres/, each with its *.sql files and atlas.sum.
//
//go:embed sqlite postgres
var FS embed.FS
