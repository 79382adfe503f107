// Package model holds the Go types gqlgen generates for the GraphQL types
// that gqlgen.yml binds to no type of ours: inputs, payloads, statistics and
// enums.
package model
