// Package ent holds the client that ent generates from the entities declared
// in ./schema: queries, mutations, upserts, the privacy and GraphQL (entgql)
// glue. Each entity has a subpackage of its own with its field names,
// predicates and ordering (ent/chat, ent/run, ...); enttest, hook, intercept,
// migrate, predicate, privacy and runtime are ent's. Only this file,
// entc.go, migrate/diff.go and the subpackages' doc.go are written by hand;
// run `make generate` after changing ./schema.
package ent

//go:generate go run -mod=mod entc.go
