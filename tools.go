//go:build tools

// Package main pins the code generators that `make generate` runs, so that
// go.mod keeps their versions.
package main

import (
	_ "github.com/99designs/gqlgen"
	_ "github.com/99designs/gqlgen/graphql/introspection"
	_ "github.com/Khan/genqlient"
)
