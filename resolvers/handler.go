package resolvers

import (
	"context"
	"fmt"
	"net/http"
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
	// Ready reports whether the server accepts work (false while draining).
	Ready func() bool
	// Ping checks the database for /healthz.
	Ping func(ctx context.Context) error
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
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           10 * time.Second,
		InitFunc:              wsInit(r.Auth),
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
		return nil, err
	}
	if cfg.RateLimit > 0 {
		burst := max(cfg.RateBurst, 1)
		api = newRateLimiter(cfg.RateLimit, burst).middleware(api)
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
func wsInit(a *auth.Service) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		raw := p.Authorization()
		if raw == "" {
			if s, ok := p["authorization"].(string); ok {
				raw = s
			}
		}
		if raw == "" {
			return ctx, nil, nil
		}
		tok := auth.BearerToken(raw)
		if tok == "" {
			tok = raw
		}
		v, err := a.Authenticate(ctx, tok)
		if err != nil {
			ctx = transport.WithWebsocketCloseCode(ctx, 4403)
			ctx = transport.AppendCloseReason(ctx, "invalid or expired token")
			return ctx, nil, fmt.Errorf("invalid or expired token")
		}
		return viewer.NewContext(ctx, v), nil, nil
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
