package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rs/cors"
)

// parseOrigins checks CORS_ORIGINS: each an origin (scheme://host[:port],
// no path) or "*" for any. It returns them normalised (lower case, no
// trailing slash).
func parseOrigins(list []string) ([]string, error) {
	var out []string
	for _, o := range list {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
				return nil, fmt.Errorf("CORS_ORIGINS: %q is not an origin such as https://app.example.com (or *)", o)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// withCORS answers CORS preflights and marks the responses to the origins
// allowed (CORS_ORIGINS) so that their browser pages may call the API:
// GET and POST with Authorization, Content-Type and the headers of GraphQL
// clients. The API authenticates with bearer tokens, not cookies, so
// credentials are not allowed. Without origins it changes nothing: only the
// API's own origin may then call it from a browser.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-Request-ID",
			"Apollo-Require-Preflight", "X-Apollo-Operation-Name", "GraphQL-Preflight"},
		ExposedHeaders: []string{"Retry-After", "X-Request-ID"},
		MaxAge:         600,
	}).Handler(next)
}

// anyOrigin reports whether origins allow every origin.
func anyOrigin(origins []string) bool { return slices.Contains(origins, "*") }
