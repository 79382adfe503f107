package schema

import (
	"entgo.io/contrib/entgql"
	"github.com/vektah/gqlparser/v2/ast"
)

// LLMProviderType annotates a string column that names an LLM provider
// ("openai", "anthropic", ...): GraphQL reads it as the LLMProvider enum
// (graph/scalars maps the values). ent/entc.go makes such fields nullable,
// null when no provider is recorded or the value is not one the enum has,
// and keeps only the equality filters of their where-inputs.
func LLMProviderType() entgql.Annotation { return entgql.Type("LLMProvider") }

// forceResolver makes gqlgen call a resolver for a field whose GraphQL type
// is not its Go type.
func forceResolver() entgql.Directive {
	return entgql.NewDirective("goField", &ast.Argument{Name: "forceResolver", Value: &ast.Value{Raw: "true", Kind: ast.BooleanValue}})
}
