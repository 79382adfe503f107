package graphiql_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/autoanalyst/autoanalyst/graph"
	"github.com/autoanalyst/autoanalyst/graphiql"
)

func get(t *testing.T, h http.Handler, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// page returns the page's HTML and its response.
func page(t *testing.T, h http.Handler) (string, *http.Response) {
	t.Helper()
	resp := get(t, h, "/", nil)
	body := readAll(t, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	return body, resp
}

var (
	refRE   = regexp.MustCompile(`(?i)<(?:script|link)\b[^>]*?\s(?:src|href)="([^"]*)"`)
	urlRE   = regexp.MustCompile(`(?i)\bhttps?://([a-z0-9.-]+)`)
	nonceRE = regexp.MustCompile(`data-style-nonce="([^"]+)"`)
	hashRE  = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// references returns the URLs of the page's scripts and stylesheets
// (data: URLs left out).
func references(t *testing.T, html string) []string {
	t.Helper()
	var refs []string
	for _, m := range refRE.FindAllStringSubmatch(html, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			refs = append(refs, m[1])
		}
	}
	if len(refs) == 0 {
		t.Fatalf("the page references no script or stylesheet:\n%s", html)
	}
	return refs
}

// vendored returns the files of assets/ that the package embeds, by name.
func vendored(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, pattern := range []string{"assets/*.js", "assets/*.css", "page/*.js", "page/*.css"} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Base(n)] = b
		}
	}
	return files
}

// TestPageServesEveryAsset: every script and stylesheet the page names is
// served with 200, its Content-Type, an immutable Cache-Control and the
// embedded file's bytes (also gzipped, and 304 on a matching ETag); every
// vendored file is on the page.
func TestPageServesEveryAsset(t *testing.T) {
	h := graphiql.Handler("/graphql")
	html, resp := page(t, h)
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	files := vendored(t)
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	served := map[string]bool{}
	for _, ref := range references(t, html) {
		u, err := url.Parse(ref)
		if err != nil || u.IsAbs() || strings.HasPrefix(ref, "/") {
			t.Errorf("reference %q: want a URL relative to the page", ref)
			continue
		}
		target := "/" + u.Path
		if !strings.HasPrefix(target, graphiql.AssetPrefix) {
			t.Errorf("reference %q is outside %s", ref, graphiql.AssetPrefix)
		}
		resp := get(t, h, target, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", target, resp.StatusCode)
			continue
		}
		ext := path.Ext(target)
		if ct := resp.Header.Get("Content-Type"); ct != wantType[ext] {
			t.Errorf("GET %s: Content-Type %q, want %q", target, ct, wantType[ext])
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", target, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", target)
		}
		name, ok := embeddedName(target)
		if !ok {
			t.Errorf("GET %s: no content hash in the name", target)
			continue
		}
		want, ok := files[name]
		if !ok {
			t.Errorf("GET %s: no embedded file %s", target, name)
			continue
		}
		served[name] = true
		if body != string(want) {
			t.Errorf("GET %s: %d bytes, not those of %s (%d bytes)", target, len(body), name, len(want))
		}

		// Compressed, when the client takes gzip.
		gz := get(t, h, target, http.Header{"Accept-Encoding": {"br, gzip;q=0.9"}})
		if gz.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatalf("GET %s gzipped: %v", target, err)
			}
			if got := readAll(t, zr); got != string(want) {
				t.Errorf("GET %s gzipped: decompresses to %d bytes, want %d", target, len(got), len(want))
			}
			if !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("GET %s gzipped: Vary %q", target, gz.Header.Get("Vary"))
			}
		} else if len(want) > 100_000 {
			t.Errorf("GET %s (%d bytes) with Accept-Encoding gzip: not compressed", target, len(want))
		}
		// Revalidation.
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", target)
		} else if r := get(t, h, target, http.Header{"If-None-Match": {etag}}); r.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match %s: %d", target, etag, r.StatusCode)
		}
	}
	for name := range files {
		if !served[name] {
			t.Errorf("%s is embedded but not on the page", name)
		}
	}
	for _, need := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css", "start.js"} {
		if !served[need] {
			t.Errorf("the page does not load %s", need)
		}
	}
	// React and ReactDOM load before GraphiQL, start.js last.
	var scripts []string
	for _, ref := range references(t, html) {
		if name, ok := embeddedName(ref); ok && strings.HasSuffix(name, ".js") {
			scripts = append(scripts, name)
		}
	}
	if want := []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "start.js"}; !slices.Equal(scripts, want) {
		t.Errorf("scripts %q, want %q", scripts, want)
	}
}

// embeddedName returns the name of the embedded file that an asset URL
// (name.<12 hex digits>.ext) serves.
func embeddedName(ref string) (string, bool) {
	base := path.Base(ref)
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	dot := strings.LastIndexByte(stem, '.')
	if dot < 0 || !hashRE.MatchString(stem[dot+1:]) {
		return "", false
	}
	return stem[:dot] + ext, true
}

// TestNoCDN: the page names no http(s) URL at all; the assets name only hosts
// known to be links or XML namespaces in the bundles (never loaded), none a
// CDN; the CSS imports nothing and its url()s are data: URLs.
func TestNoCDN(t *testing.T) {
	h := graphiql.Handler("/graphql")
	html, _ := page(t, h)
	if m := urlRE.FindAllString(html, -1); len(m) > 0 {
		t.Errorf("the page names URLs %q", m)
	}
	// Hosts in the vendored bundles: documentation links (error messages,
	// GraphiQL's logo and docs), and SVG and XHTML namespaces.
	inert := map[string]bool{
		"www.w3.org": true, "github.com": true, "reactjs.org": true, "codemirror.net": true,
		"commonmark.org": true, "en.wikipedia.org": true,
	}
	cdn := regexp.MustCompile(`(?i)unpkg|jsdelivr|cdnjs|esm\.sh|esm\.run|skypack|googleapis|gstatic|cloudflare|jspm|(^|\.)cdn\.`)
	for _, ref := range references(t, html) {
		target := "/" + strings.TrimPrefix(ref, "/")
		body := readAll(t, get(t, h, target, nil).Body)
		for _, m := range urlRE.FindAllStringSubmatch(body, -1) {
			host := strings.ToLower(m[1])
			if cdn.MatchString(host) {
				t.Errorf("%s names a CDN: %s", target, m[0])
			} else if !inert[host] {
				t.Errorf("%s names %s: a host not known to be inert (check that the page never loads from it, then list it here)", target, m[0])
			}
		}
		if strings.HasSuffix(target, ".css") {
			if strings.Contains(body, "@import") {
				t.Errorf("%s has an @import", target)
			}
			for _, m := range regexp.MustCompile(`url\(\s*['"]?([^'")]*)`).FindAllStringSubmatch(body, -1) {
				if !strings.HasPrefix(m[1], "data:") {
					t.Errorf("%s loads url(%s)", target, m[1])
				}
			}
		}
		if strings.Contains(body, "sourceMappingURL=") {
			t.Errorf("%s names a source map, which is not served", target)
		}
	}
}

// TestContentSecurityPolicy: scripts from the server only, styles from the
// server or with the response's nonce (handed to the page), connections to the
// endpoint; the nonce changes per response.
func TestContentSecurityPolicy(t *testing.T) {
	h := graphiql.Handler("/graphql")
	html, resp := page(t, h)
	csp := resp.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	m := nonceRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no style nonce on the page:\n%s", html)
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self' 'nonce-" + m[1] + "'",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"frame-ancestors": "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("%s %q, want %q (policy %q)", name, directives[name], value, csp)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("policy %q allows unsafe sources", csp)
	}
	if len(m[1]) < 22 {
		t.Errorf("nonce %q is short", m[1])
	}
	again, _ := page(t, h)
	if m2 := nonceRE.FindStringSubmatch(again); m2 == nil || m2[1] == m[1] {
		t.Errorf("the nonce did not change between responses: %q", m[1])
	}
	// No inline script or event handler for script-src 'self' to refuse.
	for _, tag := range regexp.MustCompile(`<script\b[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("inline script %s", tag)
		}
	}
	if m := regexp.MustCompile(`<[^>]*\son[a-z]+=[^>]*>`).FindString(html); m != "" {
		t.Errorf("inline event handler %s", m)
	}
	for _, hdr := range []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
		if resp.Header.Get(hdr) == "" {
			t.Errorf("page: no %s", hdr)
		}
	}

	// An endpoint on another origin is admitted, over HTTP and WebSocket.
	_, resp = page(t, graphiql.Handler("https://api.example.com:8443/graphql"))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' https://api.example.com:8443 wss://api.example.com:8443;") {
		t.Errorf("absolute endpoint: policy %q", csp)
	}
	for _, bad := range []string{"", "ftp://example.com/graphql", "http:///graphql", "https://a b/graphql"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q) did not panic", bad)
				}
			}()
			graphiql.Handler(bad)
		}()
	}
}

// TestPageEndpointAndStarter: the page names its endpoint and carries the
// starter document, escaped, which is valid against the server's schema and
// walks through the first steps.
func TestPageEndpointAndStarter(t *testing.T) {
	html, _ := page(t, graphiql.Handler("/graphql"))
	if !strings.Contains(html, `data-endpoint="/graphql"`) {
		t.Errorf("the page does not name its endpoint:\n%s", html)
	}
	start := strings.Index(html, `<template id="graphiql-starter">`)
	end := strings.Index(html, "</template>")
	if start < 0 || end < start {
		t.Fatalf("no starter template:\n%s", html)
	}
	inPage := html[start+len(`<template id="graphiql-starter">`) : end]
	if strings.ContainsAny(inPage, "<>") || !strings.Contains(inPage, "Bearer &lt;token&gt;") {
		t.Errorf("the starter is not escaped as HTML text:\n%s", inPage)
	}

	doc := graphiql.Starter()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	if _, errs := gqlparser.LoadQuery(schema, doc); len(errs) > 0 {
		t.Errorf("the starter does not validate against the schema: %v", errs)
	}
	for _, want := range []string{
		"mutation CreateGuestSession", "createGuestSession", "token", // 1. a session
		`{"Authorization": "Bearer <token>"}`, "Headers", // 2. the token in Headers
		"multipart", "curl {endpoint}", "-F operations=", "uploadDataset", "-F map=", "-F 0=@", // 3. upload
		"createChat", "sendMessage", "executeCode", // 4. ask
		"subscription RunEvents", "runEvents(runID:", "seq", "type", "text", // 5. subscribe
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the starter lacks %q", want)
		}
	}
	// The curl example's operations part is valid JSON carrying a valid document.
	m := regexp.MustCompile(`-F operations='([^']*)'`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no curl operations part")
	}
	var ops struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal([]byte(m[1]), &ops); err != nil {
		t.Fatalf("curl operations %s: %v", m[1], err)
	}
	if _, errs := gqlparser.LoadQuery(schema, ops.Query); len(errs) > 0 {
		t.Errorf("curl operations query: %v", errs)
	}
	if _, ok := ops.Variables["file"]; !ok {
		t.Errorf("curl operations: no variables.file")
	}
}

// TestRoutes: GET and HEAD only; unknown paths and stale asset names are 404.
func TestRoutes(t *testing.T) {
	h := graphiql.Handler("/graphql")
	for _, c := range []struct {
		method, target string
		code           int
	}{
		{"POST", "/", http.StatusMethodNotAllowed},
		{"HEAD", "/", http.StatusOK},
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/graphiql/", http.StatusNotFound},
		{"GET", "/graphiql/graphiql.min.js", http.StatusNotFound},
		{"GET", "/graphiql/graphiql.min.000000000000.js", http.StatusNotFound},
		{"GET", "/graphiql/../graphiql.go", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.target, nil))
		if rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.target, rec.Code, c.code)
		}
	}
}

// TestConcurrentUse: one handler serves many requests at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	h := graphiql.Handler("/graphql")
	html, _ := page(t, h)
	refs := references(t, html)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := "/"
			if i%2 == 1 {
				target = "/" + refs[i%len(refs)]
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", target, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Errorf("GET %s: %d", target, rec.Code)
			}
		}()
		// Handler itself may be called concurrently too.
		wg.Add(1)
		go func() { defer wg.Done(); graphiql.Handler("/graphql") }()
	}
	wg.Wait()
	if !slices.ContainsFunc(refs, func(r string) bool { return strings.HasSuffix(r, ".js") }) {
		t.Error("no script on the page")
	}
}
