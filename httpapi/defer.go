package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Incremental delivery of @defer (the GraphQL incremental delivery RFC, as
// gqlgen implements it): a client whose Accept lists multipart/mixed gets
// the first payload, then each deferred fragment as it resolves, in a
// multipart/mixed response (deferSpec=20220824, which Apollo Client and
// urql read). Any other client gets one whole response: @defer is removed
// from its operation before it runs.

// deferBoundary separates the parts of a multipart/mixed response.
const deferBoundary = "-"

// acceptsMultipart reports whether the client reads multipart/mixed.
func acceptsMultipart(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(h), "multipart/mixed") {
			return true
		}
	}
	return false
}

// writeIncremental writes first and every later payload of responses as a
// multipart/mixed response, flushing after each part.
func writeIncremental(w http.ResponseWriter, first *graphql.Response, next graphql.ResponseHandler, ctx context.Context) {
	w.Header().Set("Content-Type", fmt.Sprintf(`multipart/mixed; boundary="%s"; deferSpec=20220824`, deferBoundary))
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	part := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(`{"errors":[{"message":"internal error: a payload could not be encoded","extensions":{"code":"INTERNAL"}}],"hasNext":false}`)
		}
		fmt.Fprintf(w, "\r\n--%s\r\nContent-Type: application/json; charset=utf-8\r\n\r\n", deferBoundary)
		w.Write(b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	part(first)
	for {
		resp := next(ctx)
		if resp == nil {
			break
		}
		hasNext := resp.HasNext != nil && *resp.HasNext
		part(struct {
			Incremental []*graphql.Response `json:"incremental"`
			HasNext     bool                `json:"hasNext"`
		}{[]*graphql.Response{resp}, hasNext})
		if !hasNext {
			break
		}
	}
	fmt.Fprintf(w, "\r\n--%s--\r\n", deferBoundary)
}

// withoutDefer returns doc and op with every @defer removed, copying only
// when there is one: documents are shared through the query cache, so
// they are never changed in place.
func withoutDefer(doc *ast.QueryDocument, op *ast.OperationDefinition) (*ast.QueryDocument, *ast.OperationDefinition) {
	if !hasDefer(doc) {
		return doc, op
	}
	c := &deferStripper{fragments: map[string]*ast.FragmentDefinition{}}
	out := &ast.QueryDocument{Position: doc.Position, Comment: doc.Comment}
	for _, f := range doc.Fragments {
		cp := *f
		c.fragments[f.Name] = &cp
		out.Fragments = append(out.Fragments, &cp)
	}
	for _, f := range out.Fragments {
		f.Directives = dropDefer(f.Directives)
		f.SelectionSet = c.set(f.SelectionSet)
	}
	var newOp *ast.OperationDefinition
	for _, o := range doc.Operations {
		cp := *o
		cp.SelectionSet = c.set(o.SelectionSet)
		out.Operations = append(out.Operations, &cp)
		if o == op {
			newOp = &cp
		}
	}
	return out, newOp
}

type deferStripper struct {
	fragments map[string]*ast.FragmentDefinition
}

func (c *deferStripper) set(set ast.SelectionSet) ast.SelectionSet {
	if set == nil {
		return nil
	}
	out := make(ast.SelectionSet, 0, len(set))
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			cp := *s
			cp.SelectionSet = c.set(s.SelectionSet)
			out = append(out, &cp)
		case *ast.InlineFragment:
			cp := *s
			cp.Directives = dropDefer(s.Directives)
			cp.SelectionSet = c.set(s.SelectionSet)
			out = append(out, &cp)
		case *ast.FragmentSpread:
			cp := *s
			cp.Directives = dropDefer(s.Directives)
			if f, ok := c.fragments[s.Name]; ok {
				cp.Definition = f
			}
			out = append(out, &cp)
		default:
			out = append(out, sel)
		}
	}
	return out
}

func dropDefer(list ast.DirectiveList) ast.DirectiveList {
	if list.ForName("defer") == nil {
		return list
	}
	out := make(ast.DirectiveList, 0, len(list))
	for _, d := range list {
		if d.Name != "defer" {
			out = append(out, d)
		}
	}
	return out
}

// hasDefer reports whether doc uses @defer anywhere.
func hasDefer(doc *ast.QueryDocument) bool {
	var in func(ast.SelectionSet) bool
	in = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if in(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if s.Directives.ForName("defer") != nil || in(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if s.Directives.ForName("defer") != nil {
					return true
				}
			}
		}
		return false
	}
	for _, op := range doc.Operations {
		if in(op.SelectionSet) {
			return true
		}
	}
	for _, f := range doc.Fragments {
		if in(f.SelectionSet) {
			return true
		}
	}
	return false
}
