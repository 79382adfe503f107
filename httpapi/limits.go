package httpapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	gqlerrcode "github.com/99designs/gqlgen/graphql/errcode"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/autoanalyst/autoanalyst/errcode"
)

// Limits bounds what one GraphQL operation may ask for. The document's size
// is checked before gqlgen validates it (validation costs more than linear
// time in the number of fields), its cost once its variables are known,
// both before any resolver runs. README "Guards" lists each with its setting.
type Limits struct {
	// MaxTokens bounds the lexical tokens of a document (QUERY_MAX_TOKENS).
	MaxTokens int
	// MaxQueryBytes bounds a document's bytes, checked before the request
	// body is decoded (default 32 bytes a token).
	MaxQueryBytes int
	// MaxFields bounds the fields of a document with every fragment spread
	// expanded where it is spread (QUERY_MAX_FIELDS).
	MaxFields int
	// MaxDirectives bounds the directives written in a document.
	MaxDirectives int
	// MaxDepth bounds the nesting of selections; introspection's own
	// fields (__schema, __type) count as one level.
	MaxDepth int
	// MaxCost bounds an operation's cost (QUERY_COST_LIMIT): each field
	// costs 1 plus its selections', times the page size of a connection
	// (first or last, else DefaultPage) and the ids of nodes.
	MaxCost int
	// MaxPage is the largest page of a connection (MAX_PAGE_SIZE).
	MaxPage int
	// DefaultPage is the page of a connection whose query sets neither
	// first nor last (DEFAULT_PAGE_SIZE).
	DefaultPage int
	// Introspection allows __schema and __type (INTROSPECTION).
	Introspection bool
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxTokens, 2_000)
	def(&l.MaxFields, 500)
	def(&l.MaxQueryBytes, 32*l.MaxTokens)
	def(&l.MaxDirectives, 50)
	def(&l.MaxDepth, 12)
	def(&l.MaxCost, 5_000)
	def(&l.MaxPage, 100)
	def(&l.DefaultPage, 20)
	l.DefaultPage = min(l.DefaultPage, l.MaxPage)
	return l
}

// fieldCosts are the fields that cost more than 1: each runs work of its
// own per alias. cleanCode's output is as large as its input, which one
// variable can give to every alias: it costs 1 per 256 bytes of it too.
var fieldCosts = map[string]func(args map[string]any) int{
	"Query.cleanCode": func(args map[string]any) int {
		code, _ := args["code"].(string)
		return 10 + len(code)/256
	},
	"Query.publicTicker": func(map[string]any) int { return 25 },
}

// maxRepeats bounds how often one response name may be selected in one
// selection set, fragments expanded: validation compares each pair of them.
const maxRepeats = 20

// maxNodeIDs bounds the ids of one nodes query.
const maxNodeIDs = 100

func limitError(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": string(errcode.LimitExceeded)}}
}

func inputError(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": string(errcode.BadUserInput)}}
}

// documentLimits is the handler extension that measures a document before
// gqlgen validates it. Documents it admitted are remembered (by hash), so a
// repeated query is parsed once. It is safe for concurrent use.
type documentLimits struct {
	l        Limits
	admitted *lru.Cache[[32]byte, struct{}]
}

func newDocumentLimits(l Limits) *documentLimits {
	c, _ := lru.New[[32]byte, struct{}](1000)
	return &documentLimits{l: l, admitted: c}
}

var (
	_ graphql.HandlerExtension          = (*documentLimits)(nil)
	_ graphql.OperationParameterMutator = (*documentLimits)(nil)
)

func (*documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (*documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses a document over the token, field,
// directive or depth limits.
func (d *documentLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	key := sha256.Sum256([]byte(p.Query))
	if _, ok := d.admitted.Get(key); ok {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, d.l.MaxTokens)
	if err != nil {
		if strings.Contains(err.Error(), "token limit") {
			return limitError("the document has more than %d tokens (QUERY_MAX_TOKENS)", d.l.MaxTokens)
		}
		gerr, ok := err.(*gqlerror.Error)
		if !ok {
			return inputError("the document cannot be parsed")
		}
		gerr.Extensions = map[string]any{"code": string(errcode.BadUserInput), "reason": gqlerrcode.ParseFailed}
		return gerr
	}
	if n := countDirectives(doc); n > d.l.MaxDirectives {
		return limitError("the document has %d directives, over the limit of %d", n, d.l.MaxDirectives)
	}
	m := &measure{doc: doc, limit: d.l.MaxFields, sizes: map[string]int{}, depths: map[string]int{}, visiting: map[string]bool{}}
	fields, depth := 0, 0
	for _, op := range doc.Operations {
		fields = satAdd(fields, m.size(op.SelectionSet), d.l.MaxFields)
		depth = max(depth, m.depth(op.SelectionSet))
	}
	if fields > d.l.MaxFields {
		return limitError("the document selects more than %d fields, fragments expanded (QUERY_MAX_FIELDS)", d.l.MaxFields)
	}
	if name, n := m.repeats(); n > maxRepeats {
		return limitError("a selection set asks for %q %d times, fragments expanded: at most %d", name, n, maxRepeats)
	}
	if depth > d.l.MaxDepth {
		return limitError("operation is nested deeper than the limit of %d levels", d.l.MaxDepth)
	}
	d.admitted.Add(key, struct{}{})
	return nil
}

// satAdd adds, saturating just above limit.
func satAdd(a, b, limit int) int {
	if a > limit || b > limit || a+b > limit {
		return limit + 1
	}
	return a + b
}

// measure sizes a parsed (not yet validated) document, each fragment once.
// A fragment that spreads itself counts nothing more: validation refuses it.
type measure struct {
	doc      *ast.QueryDocument
	limit    int
	sizes    map[string]int
	depths   map[string]int
	visiting map[string]bool
}

func (m *measure) fragment(name string, fn func(ast.SelectionSet) int, memo map[string]int) int {
	if v, ok := memo[name]; ok {
		return v
	}
	def := m.doc.Fragments.ForName(name)
	if def == nil || m.visiting[name] {
		return 0
	}
	m.visiting[name] = true
	v := fn(def.SelectionSet)
	delete(m.visiting, name)
	memo[name] = v
	return v
}

// size is the number of fields of set, fragments expanded.
func (m *measure) size(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = satAdd(n, 1+m.size(s.SelectionSet), m.limit)
		case *ast.InlineFragment:
			n = satAdd(n, m.size(s.SelectionSet), m.limit)
		case *ast.FragmentSpread:
			n = satAdd(n, m.fragment(s.Name, m.size, m.sizes), m.limit)
		}
	}
	return n
}

// depth is the nesting of set; introspection's fields count as one level.
func (m *measure) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			d = 1
			if s.Name != "__schema" && s.Name != "__type" {
				d += m.depth(s.SelectionSet)
			}
		case *ast.InlineFragment:
			d = m.depth(s.SelectionSet)
		case *ast.FragmentSpread:
			d = m.fragment(s.Name, m.depth, m.depths)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// repeats returns the response name selected most often in one selection
// set of the document (fragments and inline fragments merged into the set
// they are spread in), and how often.
func (m *measure) repeats() (string, int) {
	flats := map[string]map[string]int{}
	var flat func(set ast.SelectionSet, into map[string]int)
	flat = func(set ast.SelectionSet, into map[string]int) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				into[s.Alias]++
			case *ast.InlineFragment:
				flat(s.SelectionSet, into)
			case *ast.FragmentSpread:
				f, ok := flats[s.Name]
				if !ok {
					f = map[string]int{}
					if def := m.doc.Fragments.ForName(s.Name); def != nil && !m.visiting[s.Name] {
						m.visiting[s.Name] = true
						flat(def.SelectionSet, f)
						delete(m.visiting, s.Name)
					}
					flats[s.Name] = f
				}
				for k, v := range f {
					into[k] = min(into[k]+v, m.limit+1)
				}
			}
		}
	}
	worst, most := "", 0
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		if len(set) == 0 {
			return
		}
		counts := map[string]int{}
		flat(set, counts)
		for k, v := range counts {
			if v > most {
				worst, most = k, v
			}
		}
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				for _, inner := range s.SelectionSet {
					if f, ok := inner.(*ast.Field); ok {
						walk(f.SelectionSet)
					}
				}
			}
		}
	}
	for _, op := range m.doc.Operations {
		walk(op.SelectionSet)
	}
	for _, f := range m.doc.Fragments {
		walk(f.SelectionSet)
	}
	return worst, most
}

// countDirectives counts the directives written anywhere in doc.
func countDirectives(doc *ast.QueryDocument) int {
	n := 0
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				n += len(s.Directives)
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				n += len(s.Directives)
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				n += len(s.Directives)
			}
		}
	}
	for _, op := range doc.Operations {
		n += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			n += len(v.Directives)
		}
		walk(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += len(f.Directives)
		walk(f.SelectionSet)
	}
	return n
}

// costLimits is the handler extension that checks a validated operation
// with its variables: its cost, the pages it asks for, its cursors, its
// strings (no NUL, which PostgreSQL cannot store), and introspection when it
// is off. It replaces gqlgen's complexity limit, which expands fragments
// again at every spread. It is safe for concurrent use.
type costLimits struct{ l Limits }

var (
	_ graphql.HandlerExtension        = costLimits{}
	_ graphql.OperationContextMutator = costLimits{}
)

func (costLimits) ExtensionName() string                   { return "CostLimit" }
func (costLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext refuses an operation over its limits.
func (c costLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := &costWalk{l: c.l, doc: oc.Doc, vars: oc.Variables, memo: map[string]int{}}
	cost := w.cost(oc.Operation.SelectionSet)
	if w.err != nil {
		return w.err
	}
	if cost > c.l.MaxCost {
		return limitError("operation cost is over the limit of %d (QUERY_COST_LIMIT): ask for smaller pages (first, last) or fewer fields", c.l.MaxCost)
	}
	return nil
}

type costWalk struct {
	l    Limits
	doc  *ast.QueryDocument
	vars map[string]any
	memo map[string]int
	err  *gqlerror.Error
}

func (w *costWalk) cost(set ast.SelectionSet) int {
	total := 0
	for _, sel := range set {
		if w.err != nil {
			return 0
		}
		switch s := sel.(type) {
		case *ast.Field:
			total = satAdd(total, w.field(s), w.l.MaxCost)
		case *ast.InlineFragment:
			total = satAdd(total, w.cost(s.SelectionSet), w.l.MaxCost)
		case *ast.FragmentSpread:
			v, ok := w.memo[s.Name]
			if !ok {
				if def := w.doc.Fragments.ForName(s.Name); def != nil {
					v = w.cost(def.SelectionSet)
				}
				w.memo[s.Name] = v
			}
			total = satAdd(total, v, w.l.MaxCost)
		}
	}
	return total
}

// field is the cost of one field and its selections; it records the first
// refusal in w.err.
func (w *costWalk) field(f *ast.Field) int {
	if (f.Name == "__schema" || f.Name == "__type") && !w.l.Introspection {
		w.err = inputError("introspection is disabled on this server (INTROSPECTION)")
		return 0
	}
	args := f.ArgumentMap(w.vars)
	for name, v := range args {
		if hasNUL(v) {
			w.err = inputError("%s(%s:): text must not contain NUL characters", f.Name, name)
			w.err.Extensions["field"] = name
			return 0
		}
	}
	mult := 1
	if f.Definition != nil && strings.HasSuffix(f.Definition.Type.Name(), "Connection") && f.Definition.Arguments.ForName("first") != nil {
		page, err := w.page(f.Name, args)
		if err != nil {
			w.err = err
			return 0
		}
		mult = page
	}
	if ids, ok := args["ids"].([]any); ok && f.Name == "nodes" {
		if len(ids) > maxNodeIDs {
			w.err = limitError("nodes takes at most %d ids, got %d", maxNodeIDs, len(ids))
			return 0
		}
		mult = max(len(ids), 1)
	}
	base := 1
	if f.ObjectDefinition != nil {
		if c, ok := fieldCosts[f.ObjectDefinition.Name+"."+f.Name]; ok {
			base = c(args)
		}
	}
	children := w.cost(f.SelectionSet)
	if children > 0 && mult > (w.l.MaxCost+1)/children {
		return w.l.MaxCost + 1
	}
	return satAdd(base, mult*children, w.l.MaxCost)
}

// page checks a connection's first, last, after and before, and returns
// the size of the page it asks for.
func (w *costWalk) page(field string, args map[string]any) (int, *gqlerror.Error) {
	for _, name := range []string{"after", "before"} {
		s, ok := args[name].(string)
		if !ok {
			continue
		}
		var cur entgql.Cursor[string]
		if err := cur.UnmarshalGQL(s); err != nil {
			e := inputError("%s(%s:): not a cursor of this API (use pageInfo.endCursor or an edge's cursor)", field, name)
			e.Extensions["field"] = name
			return 0, e
		}
	}
	first, hasFirst, err := intArg(args, "first")
	if err != nil {
		return 0, inputError("%s(first:): %s", field, err)
	}
	last, hasLast, err := intArg(args, "last")
	if err != nil {
		return 0, inputError("%s(last:): %s", field, err)
	}
	switch {
	case hasFirst && hasLast:
		return 0, inputError("%s: set first or last, not both", field)
	case !hasFirst && !hasLast:
		return w.l.DefaultPage, nil
	}
	n, name := first, "first"
	if hasLast {
		n, name = last, "last"
	}
	if n < 0 || n > int64(w.l.MaxPage) {
		e := inputError("%s(%s:): a page holds 0 to %d items (MAX_PAGE_SIZE), got %d", field, name, w.l.MaxPage, n)
		e.Extensions["field"] = name
		return 0, e
	}
	return int(n), nil
}

// intArg reads an integer argument; present is false for an absent or null one.
func intArg(args map[string]any, name string) (n int64, present bool, err error) {
	v, ok := args[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch x := v.(type) {
	case int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case float64:
		return int64(x), true, nil
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		if err != nil {
			return 0, true, fmt.Errorf("not an integer")
		}
		return n, true, nil
	}
	return 0, true, fmt.Errorf("not an integer")
}

// hasNUL reports whether v holds a string with a NUL character.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// pageDefaults gives a connection whose query sets neither first nor last
// a page of n items, so that no connection returns every row.
func pageDefaults(n int) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc != nil && fc.Args != nil {
			first, okF := fc.Args["first"].(*int)
			last, okL := fc.Args["last"].(*int)
			if okF && okL && first == nil && last == nil {
				page := n
				fc.Args["first"] = &page
			}
		}
		return next(ctx)
	}
}
