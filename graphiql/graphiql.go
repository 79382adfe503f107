// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, with every
// asset embedded in the binary: GraphiQL's JavaScript and CSS (which bundle
// graphql-js, CodeMirror, its fonts and the graphql-ws client), React and
// ReactDOM, vendored in assets/ by update-assets.sh. The page loads nothing from
// another host, so it works offline, air-gapped and behind strict proxies.
//
// The page runs queries and mutations over HTTP at the endpoint and
// subscriptions over a WebSocket at the same URL (ws: or wss:,
// graphql-transport-ws), sending the Headers pane's headers with both (on the
// WebSocket, as the connection_init payload). Its editor opens with a starter
// document (page/starter.graphql) that walks through the API's first steps.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the path under which the handler serves its assets, relative
// to the page: register the handler for "/" and for this prefix
// (mux.Handle("GET /{$}", h); mux.Handle("GET "+graphiql.AssetPrefix, h)).
const AssetPrefix = "/graphiql/"

//go:embed assets/*.js assets/*.css page/*.js page/*.css
var assetFiles embed.FS

//go:embed page/index.html
var pageHTML string

//go:embed page/starter.graphql
var starter string

// Starter returns the starter document that the editor opens with (on a first
// visit; GraphiQL then keeps the user's tabs in the browser's storage). It is
// safe for concurrent use.
func Starter() string { return starter }

// The page's stylesheets and scripts, in the order they load: React and
// ReactDOM before GraphiQL's UMD bundle, which expects them as globals, and
// start.js last.
var (
	pageStyles  = []string{"assets/graphiql.min.css", "page/start.css"}
	pageScripts = []string{
		"assets/react.production.min.js",
		"assets/react-dom.production.min.js",
		"assets/graphiql.min.js",
		"page/start.js",
	}
)

// cacheForever is the Cache-Control of assets: their URLs change with their
// content.
const cacheForever = "public, max-age=31536000, immutable"

// asset is one embedded file, served under a content-hashed name.
type asset struct {
	contentType string
	etag        string
	body        []byte

	// gzipped is body compressed, nil when that does not pay; made on the
	// first request that takes gzip, so as not to slow the server's start.
	gzipOnce sync.Once
	gzipped  []byte
}

// gzipBody returns the compressed body, or nil.
func (a *asset) gzipBody() []byte {
	a.gzipOnce.Do(func() { a.gzipped = gzipBytes(a.body) })
	return a.gzipped
}

type assetSet struct {
	byName map[string]*asset // served name ("graphiql.min.<hash>.js") to asset
	urls   map[string]string // embedded path ("assets/graphiql.min.js") to URL relative to the page
}

var (
	loadOnce sync.Once
	loaded   *assetSet
	loadErr  error
)

// loadAssets reads and hashes the embedded assets once per process.
func loadAssets() (*assetSet, error) {
	loadOnce.Do(func() {
		set := &assetSet{byName: map[string]*asset{}, urls: map[string]string{}}
		for _, p := range append(append([]string{}, pageStyles...), pageScripts...) {
			body, err := fs.ReadFile(assetFiles, p)
			if err != nil {
				loadErr = err
				return
			}
			sum := sha256.Sum256(body)
			hash := hex.EncodeToString(sum[:6])
			ext := path.Ext(p)
			name := strings.TrimSuffix(path.Base(p), ext) + "." + hash + ext
			a := &asset{
				contentType: contentType(ext),
				etag:        `"` + hash + `"`,
				body:        body,
			}
			set.byName[name] = a
			set.urls[p] = strings.TrimPrefix(AssetPrefix, "/") + name
		}
		loaded = set
	})
	return loaded, loadErr
}

func contentType(ext string) string {
	switch ext {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return mime.TypeByExtension(ext)
}

// gzipBytes compresses b, or returns nil when that saves less than a tenth.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() > len(b)*9/10 {
		return nil
	}
	return buf.Bytes()
}

var pageTemplate = template.Must(template.New("graphiql").Parse(pageHTML))

// pageData fills page/index.html.
type pageData struct {
	Endpoint        string
	Starter         string
	Styles, Scripts []string
	// StyleNonce admits the <style> elements that GraphiQL's menus and
	// dialogs inject (to lock scrolling while open): start.js hands it to them.
	StyleNonce string
}

// handler serves the page at / and the assets under AssetPrefix.
type handler struct {
	assets *assetSet
	page   pageData
	csp    string // with {nonce} for the style nonce
}

// Handler returns an http.Handler that serves the GraphiQL page at "/" and its
// embedded assets under AssetPrefix ("/graphiql/<name>.<hash>.<ext>", cached
// for a year as immutable). The page talks to endpoint: a path on the same
// server ("/graphql"), or an absolute http(s) URL, which its
// Content-Security-Policy then admits too (with the ws(s): scheme for
// subscriptions). Any other path is 404; methods other than GET and HEAD are
// 405. The handler is safe for concurrent use, and so is Handler.
//
// The page's Content-Security-Policy admits scripts, styles, fonts and images
// from the server only (fonts and images also as data: URLs), <style>
// elements only with the response's nonce, and connections to the endpoint.
//
// Handler panics if endpoint is empty or neither a path nor an http(s) URL, or
// if the embedded assets cannot be read (they are compiled in).
func Handler(endpoint string) http.Handler {
	connect, err := connectSources(endpoint)
	if err != nil {
		panic("graphiql: " + err.Error())
	}
	set, err := loadAssets()
	if err != nil {
		panic("graphiql: embedded assets: " + err.Error())
	}
	h := &handler{assets: set, page: pageData{Endpoint: endpoint, Starter: starter}}
	for _, p := range pageStyles {
		h.page.Styles = append(h.page.Styles, set.urls[p])
	}
	for _, p := range pageScripts {
		h.page.Scripts = append(h.page.Scripts, set.urls[p])
	}
	h.csp = strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'nonce-{nonce}'",
		// GraphiQL's CSS carries its fonts and images as data: URLs; the
		// page's icon is data: too, so that no /favicon.ico is asked for.
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	// Fail now rather than on the first request.
	if _, err := h.render("test"); err != nil {
		panic("graphiql: page: " + err.Error())
	}
	return h
}

// render returns the page with its style nonce.
func (h *handler) render(nonce string) ([]byte, error) {
	data := h.page
	data.StyleNonce = nonce
	var b bytes.Buffer
	err := pageTemplate.Execute(&b, data)
	return b.Bytes(), err
}

// connectSources returns the CSP connect-src sources that admit endpoint:
// 'self' (which admits ws: and wss: on the page's own host too), and an
// absolute endpoint's origin over HTTP and WebSocket.
func connectSources(endpoint string) (string, error) {
	if strings.TrimSpace(endpoint) == "" {
		return "", fmt.Errorf("empty endpoint")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme == "" && u.Host == "" {
		return "'self'", nil
	}
	var ws string
	switch strings.ToLower(u.Scheme) {
	case "http":
		ws = "ws"
	case "https":
		ws = "wss"
	default:
		return "", fmt.Errorf("endpoint %q: want a path or an http(s) URL", endpoint)
	}
	if u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
		return "", fmt.Errorf("endpoint %q: bad host", endpoint)
	}
	return fmt.Sprintf("'self' %s://%s %s://%s", strings.ToLower(u.Scheme), u.Host, ws, u.Host), nil
}

// ServeHTTP serves the page or an asset.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch {
	case r.URL.Path == "/":
		var n [18]byte
		rand.Read(n[:])
		nonce := base64.RawURLEncoding.EncodeToString(n[:]) // no character to escape in HTML
		page, err := h.render(nonce)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", strings.Replace(h.csp, "{nonce}", nonce, 1))
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		// Each response has its own nonce; the page is small.
		hdr.Set("Cache-Control", "no-store")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		a := h.assets.byName[strings.TrimPrefix(r.URL.Path, AssetPrefix)]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		hdr.Set("Content-Type", a.contentType)
		hdr.Set("Cache-Control", cacheForever)
		body, etag := a.body, a.etag
		// Every asset is text, which compresses.
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if gz := a.gzipBody(); gz != nil {
				hdr.Set("Content-Encoding", "gzip")
				body, etag = gz, strings.TrimSuffix(etag, `"`)+`-gzip"`
			}
		}
		hdr.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	default:
		http.NotFound(w, r)
	}
}

// acceptsGzip reports whether the request's Accept-Encoding admits gzip.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(h, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
