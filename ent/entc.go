//go:build ignore

// Command entc generates the ent client and the entgql GraphQL schema.
// Run through `make generate` (go generate ./ent).
package main

import (
	"log"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("../gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("../graph/ent.graphql"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(true),
		entgql.WithSchemaHook(typedColumns),
	)
	if err != nil {
		log.Fatalf("entgql extension: %v", err)
	}
	err = entc.Generate("./schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureVersionedMigration,
			gen.FeatureUpsert,
			gen.FeatureModifier,
			gen.FeatureIntercept,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("ent codegen: %v", err)
	}
}

// nullableTypes are GraphQL types that some ent text columns are read as
// (schema.LLMProviderType, the report's plan). A column may hold what the type
// cannot represent (nothing recorded yet, a provider this server does not
// know), which reads as null: their fields are nullable whatever the column.
var nullableTypes = map[string]bool{"LLMProvider": true, "Plan": true}

// enumTypes are the enums kept in text columns: their where-inputs keep the
// equality filters only (not GT, Contains, EqualFold...).
var enumTypes = map[string]bool{"LLMProvider": true}

// typedColumns adjusts the generated schema to the typed columns above.
func typedColumns(_ *gen.Graph, s *ast.Schema) error {
	for _, def := range s.Types {
		switch def.Kind {
		case ast.Object:
			for _, f := range def.Fields {
				if f.Type.Elem == nil && f.Type.NonNull && nullableTypes[f.Type.NamedType] {
					f.Type.NonNull = false
				}
			}
		case ast.InputObject:
			if !strings.HasSuffix(def.Name, "WhereInput") {
				continue
			}
			typed := map[string]bool{}
			for _, f := range def.Fields {
				if enumTypes[f.Type.Name()] {
					typed[f.Name] = true
				}
			}
			kept := def.Fields[:0]
			for _, f := range def.Fields {
				if !typed[f.Name] || !rangeFilter(f.Name, typed) {
					kept = append(kept, f)
				}
			}
			def.Fields = kept
		}
	}
	return nil
}

// rangeFilter reports whether name is an ordering or text filter of another
// field of typed (its name plus GT, Contains...).
func rangeFilter(name string, typed map[string]bool) bool {
	for _, op := range []string{"GT", "GTE", "LT", "LTE", "Contains", "HasPrefix", "HasSuffix", "EqualFold", "ContainsFold"} {
		if base, ok := strings.CutSuffix(name, op); ok && typed[base] {
			return true
		}
	}
	return false
}
