package resolvers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/graph"
	"github.com/autoanalyst/autoanalyst/graphws"
)

// HandlerConfig configures the HTTP API.
type HandlerConfig struct {
	// MaxUploadBytes is the largest accepted file (UPLOAD_MAX_BYTES).
	MaxUploadBytes int64
	// ComplexityLimit bounds the cost of one operation (default 1000).
	ComplexityLimit int
	// DepthLimit bounds the nesting of one operation (default 12).
	DepthLimit int
	// RateLimit is the steady number of HTTP requests per second allowed to
	// one user (or, without a token, one address); RateBurst the burst above
	// it. Zero turns rate limiting off.
	RateLimit float64
	RateBurst int
	// TrustedOrigins may post multipart uploads from a browser on another
	// origin ("https://app.example.com").
	TrustedOrigins []string
	// TrustedProxies are the load balancers (addresses or CIDR prefixes)
	// whose X-Forwarded-For names the client, for the per-address rate limit.
	TrustedProxies []string
	// Ready reports whether the server accepts work (false while draining).
	Ready func() bool
	// Ping checks the database for /healthz.
	Ping func(ctx context.Context) error
	// WebSockets, if set, ends the WebSocket connections when the server
	// stops (they close with 1001, so that clients reconnect, to another node).
	WebSockets *graphws.Shutdown
}

// NewHandler returns the HTTP API: GraphiQL at /, GraphQL at /graphql (POST,
// GET for queries, multipart uploads, WebSocket with graphql-transport-ws and
// graphql-ws, SSE), and /healthz.
func NewHandler(r *Resolver, cfg HandlerConfig) (http.Handler, error) {
	if cfg.ComplexityLimit <= 0 {
		cfg.ComplexityLimit = 1000
	}
	if cfg.DepthLimit <= 0 {
		cfg.DepthLimit = 12
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: r}))
	srv.AddTransport(&graphws.Transport{
		InitFunc:    wsInit(r.Auth),
		InitTimeout: 10 * time.Second,
		KeepAlive:   15 * time.Second,
		CheckOrigin: wsOriginCheck(cfg.TrustedOrigins),
		Shutdown:    cfg.WebSockets,
		ErrorLog: func(ctx context.Context, err error) {
			r.Logger.Debug().Err(err).Msg("websocket closed")
		},
	})
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.MultipartForm{
		// gqlgen's own cap sits above ours, so that an upload just over the
		// limit gets our error naming UPLOAD_MAX_BYTES; bodies past this are cut.
		MaxUploadSize: cfg.MaxUploadBytes + 1<<20,
		MaxMemory:     8 << 20, // the rest of a file spools to disk
	})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit))
	srv.Use(depthLimit{max: cfg.DepthLimit})
	// No entgql.Transactioner: a mutation may stream an upload or wait on the
	// sandbox, and on SQLite an open write transaction would block every other
	// writer for that long. Services open short transactions themselves.
	srv.SetErrorPresenter(ErrorPresenter(r.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		r.Logger.Error().Str("panic", fmt.Sprint(p)).Msg("panic in resolver")
		return errcode.New(errcode.Internal, "internal error")
	})

	var api http.Handler = limitBody(cfg.MaxUploadBytes+1<<20, srv)
	api, err := multipartOriginCheck(cfg.TrustedOrigins, api)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_ORIGINS: %w", err)
	}
	if cfg.RateLimit > 0 {
		proxies, err := ParseTrustedProxies(cfg.TrustedProxies)
		if err != nil {
			return nil, err
		}
		burst := max(cfg.RateBurst, 1)
		api = newRateLimiter(cfg.RateLimit, burst, proxies).middleware(api)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", r.Auth.Middleware(api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cfg.Ready != nil && !cfg.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"draining"}`))
			return
		}
		if cfg.Ping != nil {
			ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
			defer cancel()
			if err := cfg.Ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"status":"database unreachable"}`))
				return
			}
		}
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.Handle("GET /{$}", playground.Handler("Auto-Analyst", "/graphql"))
	registerReportDownload(mux, r)
	return mux, nil
}

// wsInit authenticates a WebSocket from its connection_init payload
// ({"Authorization": "Bearer <token>"}, or the lowercase key). A connection
// without a token is accepted without a viewer; a bad token closes it with 4403.
func wsInit(a *auth.Service) graphws.InitFunc {
	return func(ctx context.Context, p graphws.InitPayload) (context.Context, error) {
		raw := p.Authorization()
		if raw == "" {
			return ctx, nil
		}
		tok := auth.BearerToken(raw)
		if tok == "" {
			tok = raw
		}
		v, err := a.Authenticate(ctx, tok)
		if err != nil {
			return nil, errors.New("invalid or expired token")
		}
		if prev := viewer.FromContext(ctx); prev != nil && prev.AdminKey {
			// The upgrade request carried a valid X-Admin-Key.
			cp := *v
			cp.AdminKey = true
			v = &cp
		}
		return viewer.NewContext(ctx, v), nil
	}
}

// wsOriginCheck admits WebSockets from clients that send no Origin (not a
// browser), from the API's own origin, and from trusted origins.
func wsOriginCheck(trusted []string) func(*http.Request) bool {
	ok := make(map[string]bool, len(trusted))
	for _, o := range trusted {
		ok[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(req *http.Request) bool {
		origin := req.Header.Get("Origin")
		if origin == "" {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil {
			return false
		}
		return strings.EqualFold(u.Host, req.Host) || ok[strings.ToLower(u.Scheme+"://"+u.Host)]
	}
}

// limitBody refuses a request whose declared length is over max with a
// GraphQL error naming the limit, before reading it.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, errcode.LimitExceeded,
				fmt.Sprintf("request body of %d bytes is over the upload limit (UPLOAD_MAX_BYTES)", req.ContentLength))
			return
		}
		next.ServeHTTP(w, req)
	})
}
