package resolvers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
)

func TestSelectionDepth(t *testing.T) {
	tests := []struct {
		query string
		want  int
	}{
		{`{ viewer { id } }`, 2},
		{`{ a b c }`, 1},
		{`{ node(id: "x") { ... on Chat { messages { edges { node { id } } } } } }`, 5},
		{`{ a { b { c { d { e { f } } } } } }`, 6},
	}
	for _, tt := range tests {
		doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if got := selectionDepth(doc.Operations[0].SelectionSet, 0, 100); got != tt.want {
			t.Errorf("depth(%s) = %d, want %d", tt.query, got, tt.want)
		}
	}
	// Past the limit the walk stops early and reports more than the limit.
	doc, _ := parser.ParseQuery(&ast.Source{Input: `{ a { b { c { d { e { f } } } } } }`})
	if got := selectionDepth(doc.Operations[0].SelectionSet, 0, 3); got <= 3 {
		t.Errorf("depth with limit 3 = %d, want > 3", got)
	}
}

func TestRateLimiter(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := newRateLimiter(0.001, 3).middleware(ok)
	send := func(user, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/graphql", nil)
		req.RemoteAddr = addr
		if user != "" {
			req = req.WithContext(viewer.NewContext(req.Context(), &viewer.Viewer{UserID: user}))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := send("usr_a", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	// The same user from another address is still limited.
	rec := send("usr_a", "10.0.0.2:1000")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v", rec.Code, rec.Header())
	}
	var body struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Errors[0].Extensions["code"] != "RATE_LIMITED" {
		t.Fatalf("body = %s", rec.Body)
	}
	// Another user and an anonymous address have their own buckets.
	if rec := send("usr_b", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("another user: %d", rec.Code)
	}
	if rec := send("", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("anonymous: %d", rec.Code)
	}
}

func TestMultipartOriginCheck(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := multipartOriginCheck([]string{"https://app.example.com"}, ok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, contentType, secFetchSite, origin string
		want                                    int
	}{
		{"cross-site form upload", "multipart/form-data; boundary=x", "cross-site", "https://evil.example", http.StatusForbidden},
		{"same-origin form upload", "multipart/form-data; boundary=x", "same-origin", "", http.StatusNoContent},
		{"non-browser client", "multipart/form-data; boundary=x", "", "", http.StatusNoContent},
		{"trusted origin", "multipart/form-data; boundary=x", "cross-site", "https://app.example.com", http.StatusNoContent},
		{"cross-site JSON (CORS decides)", "application/json", "cross-site", "https://evil.example", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "https://api.example.com/graphql", strings.NewReader(""))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.secFetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tt.secFetchSite)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
	if _, err := multipartOriginCheck([]string{"not an origin"}, ok); err == nil {
		t.Fatal("a malformed trusted origin was accepted")
	}
}
