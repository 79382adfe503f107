package sdl

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/autoanalyst/autoanalyst/graph"
)

func TestNoGoDirectives(t *testing.T) {
	sdl := String()
	for name := range goDirectives {
		if strings.Contains(sdl, "@"+name) {
			t.Errorf("the SDL mentions @%s", name)
		}
		if Schema().Directives[name] != nil {
			t.Errorf("the public schema defines @%s", name)
		}
	}
	// A code-generation directive that gqlgen or entgql adds later.
	if strings.Contains(sdl, "@go") {
		t.Errorf("the SDL has a Go-only directive: add it to goDirectives")
	}
}

func TestScalarsDocumented(t *testing.T) {
	want := map[string]string{
		"Time":   "https://scalars.graphql.org/andimarek/date-time",
		"Upload": "https://github.com/jaydenseric/graphql-multipart-request-spec",
	}
	for name, url := range want {
		line := fmt.Sprintf("scalar %s @specifiedBy(url: %q)", name, url)
		if !strings.Contains(String(), line+"\n") {
			t.Errorf("the SDL lacks %s", line)
		}
	}
	for _, def := range Schema().Types {
		if def.Kind != ast.Scalar || def.BuiltIn {
			continue
		}
		if def.Directives.ForName("specifiedBy") == nil && def.Description == "" {
			t.Errorf("scalar %s has neither @specifiedBy nor a description: document it in the schema or in scalars", def.Name)
		}
	}
	if d := Schema().Types["Cursor"]; d == nil || !strings.Contains(d.Description, "opaque") {
		t.Errorf("Cursor is not described as opaque: %+v", d)
	}
}

// TestParsesBack loads the SDL with gqlparser, as a client would, and finds
// the executable schema's types, fields, arguments and values unchanged.
func TestParsesBack(t *testing.T) {
	got, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: String()})
	if err != nil {
		t.Fatal(err)
	}
	want := graph.NewExecutableSchema(graph.Config{}).Schema()
	g, w := shapes(got), shapes(want)
	if len(w) < 10 || w["Query"] == "" {
		t.Fatalf("shapes found %d types", len(w))
	}
	for name, ws := range w {
		if gs, ok := g[name]; !ok {
			t.Errorf("%s is missing", name)
		} else if gs != ws {
			t.Errorf("%s differs:\n got %s\nwant %s", name, gs, ws)
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("%s is not in the executable schema", name)
		}
	}
	for _, op := range []struct{ got, want *ast.Definition }{
		{got.Query, want.Query}, {got.Mutation, want.Mutation}, {got.Subscription, want.Subscription},
	} {
		if (op.got == nil) != (op.want == nil) || (op.got != nil && op.got.Name != op.want.Name) {
			t.Errorf("root %v, want %v", op.got, op.want)
		}
	}
	// Printing is a fixed point.
	if f := header + Format(got); f != String() {
		t.Error("the SDL printed again differs")
	}
}

// shapes describes each type that is not built in, with its descriptions
// (but a scalar's, which the SDL may add) and without applied directives
// but @deprecated.
func shapes(s *ast.Schema) map[string]string {
	out := map[string]string{}
	for name, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(name, "__") {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s implements %v", def.Kind, name, slices.Sorted(slices.Values(def.Interfaces)))
		if def.Kind != ast.Scalar {
			fmt.Fprintf(&b, " %q", def.Description)
		}
		fmt.Fprintf(&b, " = %v", def.Types)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			fmt.Fprintf(&b, "\n  %s %q: %s%s", f.Name, f.Description, f.Type, deprecated(f.Directives))
			if f.DefaultValue != nil {
				fmt.Fprintf(&b, " = %s", f.DefaultValue)
			}
			for _, a := range f.Arguments {
				fmt.Fprintf(&b, "\n    %s %q: %s%s", a.Name, a.Description, a.Type, deprecated(a.Directives))
				if a.DefaultValue != nil {
					fmt.Fprintf(&b, " = %s", a.DefaultValue)
				}
			}
		}
		for _, v := range def.EnumValues {
			fmt.Fprintf(&b, "\n  %s %q%s", v.Name, v.Description, deprecated(v.Directives))
		}
		out[name] = b.String()
	}
	return out
}

func deprecated(l ast.DirectiveList) string {
	if d := l.ForName("deprecated"); d != nil {
		return " @deprecated" + fmt.Sprint(d.ArgumentMap(nil))
	}
	return ""
}

func TestPublicLeavesSourceAlone(t *testing.T) {
	src := graph.NewExecutableSchema(graph.Config{}).Schema()
	before := Format(src)
	if _, err := Public(src); err != nil {
		t.Fatal(err)
	}
	if Format(src) != before {
		t.Error("Public modified the executable schema")
	}
}
