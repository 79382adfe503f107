package sdl

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ContentType is the media type Handler serves the SDL with: plain text, so
// that a browser shows it; GraphQL tools read it whatever its type.
const ContentType = "text/plain; charset=utf-8"

var etag = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(String()))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
})

// Handler serves the published SDL (String) to GET and HEAD, with an ETag
// (If-None-Match answers 304); other methods get 405. Mount it at
// GET /graphql/schema.graphql; it needs no authentication.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "GET the schema", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ContentType)
		h.Set("X-Content-Type-Options", "nosniff")
		// Revalidate each time: a deployment may change the schema.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag())
		http.ServeContent(w, r, "schema.graphql", time.Time{}, strings.NewReader(String()))
	})
}
