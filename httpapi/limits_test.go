package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/autoanalyst/autoanalyst/graph"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// fragmentBomb is k fragments that each spread the previous one twice:
// 2^k fields once expanded, in about 40 bytes a fragment.
func fragmentBomb(k int) string {
	var b strings.Builder
	b.WriteString("fragment F0 on Query { __typename }\n")
	for i := 1; i <= k; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	fmt.Fprintf(&b, "query { ...F%d }", k)
	return b.String()
}

func TestMeasure(t *testing.T) {
	tests := []struct {
		query         string
		fields, depth int
	}{
		{`{ viewer { id } }`, 2, 2},
		{`{ a b c }`, 3, 1},
		{`{ node(id: "x") { ... on Chat { messages { edges { node { id } } } } } }`, 5, 5},
		{`{ a { b { c { d { e { f } } } } } }`, 6, 6},
		{`query { ...A ...A } fragment A on Query { x { y } }`, 4, 2},
		{`query { __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }`, 12, 1},
		{`query { ...A } fragment A on Query { ...A x }`, 1, 1}, // a cycle: validation refuses it
		{fragmentBomb(24), 1001, 1},
	}
	for _, tt := range tests {
		doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		m := &measure{doc: doc, limit: 1000, sizes: map[string]int{}, depths: map[string]int{}, visiting: map[string]bool{}}
		if got := m.size(doc.Operations[0].SelectionSet); got != tt.fields {
			t.Errorf("size(%.60s) = %d, want %d", tt.query, got, tt.fields)
		}
		if got := m.depth(doc.Operations[0].SelectionSet); got != tt.depth {
			t.Errorf("depth(%.60s) = %d, want %d", tt.query, got, tt.depth)
		}
	}
}

func TestDocumentLimits(t *testing.T) {
	l := Limits{Introspection: true}.withDefaults()
	dup := func(field string, n int) string { return "{" + strings.Repeat(field+" ", n) + "}" }
	tests := []struct {
		name, query, code string
	}{
		{"ordinary", `{ viewer { id } }`, ""},
		{"10k __typename", dup("__typename", 10_000), "LIMIT_EXCEEDED"},
		{"10k models", dup("models { name }", 10_000), "LIMIT_EXCEEDED"},
		{"fields", aliases("__typename", l.MaxFields+1), "LIMIT_EXCEEDED"},
		{"repeats", dup("__typename", maxRepeats+1), "LIMIT_EXCEEDED"},
		{"repeats in fragments", `query { ...A ...B } fragment A on Query {` + strings.Repeat(" __typename", 15) +
			`} fragment B on Query {` + strings.Repeat(" __typename", 15) + `}`, "LIMIT_EXCEEDED"},
		{"repeats allowed", dup("__typename", maxRepeats), ""},
		{"fragment bomb", fragmentBomb(24), "LIMIT_EXCEEDED"},
		{"directives", "{ __typename" + strings.Repeat(" @skip(if: false)", 10_000) + " }", "LIMIT_EXCEEDED"},
		{"deep", `{ a { b { c { d { e { f { g { h { i { j { k { l { m } } } } } } } } } } } } }`, "LIMIT_EXCEEDED"},
		{"parse error", `{ viewer { id }`, "BAD_USER_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocumentLimits(l)
			err := d.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: tt.query})
			got := ""
			if err != nil {
				got, _ = err.Extensions["code"].(string)
			}
			if got != tt.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
}

// aliases is n differently aliased copies of field, in braces.
func aliases(field string, n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// BenchmarkValidate measures gqlgen's validation of the largest documents
// the limits admit, next to an ordinary one.
func BenchmarkValidate(b *testing.B) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}).Schema()
	l := Limits{}.withDefaults()
	for _, q := range []struct{ name, query string }{
		{"viewer", `{ viewer { id } }`},
		{"max-repeats", "{" + strings.Repeat("__typename ", maxRepeats) + "}"},
		{"max-aliases", aliases("__typename", l.MaxFields)},
		{"max-alias-models", aliases("models { name }", l.MaxFields/2)},
		{"dup-20", "{" + strings.Repeat(aliases("__typename", 50)[1:len(aliases("__typename", 50))-1]+" ", 20) + "}"},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				doc, err := parser.ParseQuery(&ast.Source{Input: q.query})
				if err != nil {
					b.Fatal(err)
				}
				if errs := validator.Validate(schema, doc); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}

// TestIntrospectionPasses sends graphql-js's getIntrospectionQuery() (as
// GraphiQL, graphql-codegen, rover and Postman do), with its default options
// and with all of them (testdata/introspection*.graphql, written by
// graphql 16.15), through the guards: it must answer the schema.
func TestIntrospectionPasses(t *testing.T) {
	h := testHandler(t, Config{MaxUploadBytes: 1 << 20, Limits: Limits{Introspection: true}})
	for _, file := range []string{"testdata/introspection.graphql", "testdata/introspection-all.graphql"} {
		q, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"query": string(q)})
		req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp struct {
			Data struct {
				Schema *struct{ Types []struct{ Name string } } `json:"__schema"`
			}
			Errors []map[string]any
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != 200 || len(resp.Errors) > 0 ||
			resp.Data.Schema == nil || len(resp.Data.Schema.Types) < 20 {
			t.Errorf("%s: %d %.300s", file, rec.Code, rec.Body)
		}
	}
}
