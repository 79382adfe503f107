// Package graph holds the GraphQL schema (*.graphqls, ent.graphql) and the
// code gqlgen generates from it. Resolvers live in package resolvers.
package graph

//go:generate go run github.com/99designs/gqlgen generate
