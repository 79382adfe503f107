// Package schema declares the database's entities for ent, one file each:
// their fields, edges, indexes, privacy policies and GraphQL annotations,
// with the mixins they share. `make generate` turns it into the client of
// package ent, the GraphQL types of graph/ent.graphql and, when the tables
// change, a versioned migration per dialect.
//
// Its subpackages are the leaves the schema needs: pulid (the identifiers)
// and rule (the privacy rules). It holds no logic beyond declarations.
package schema
