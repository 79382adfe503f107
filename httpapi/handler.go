package httpapi

import (
	"context"
	"encoding/json"
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
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/buildinfo"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/graph"
	"github.com/autoanalyst/autoanalyst/graph/sdl"
	"github.com/autoanalyst/autoanalyst/graphiql"
	"github.com/autoanalyst/autoanalyst/graphws"
	"github.com/autoanalyst/autoanalyst/metrics"
	"github.com/autoanalyst/autoanalyst/resolvers"
	"github.com/autoanalyst/autoanalyst/tracing"
)

// Config configures the HTTP API.
type Config struct {
	// MaxUploadBytes is the largest accepted file (UPLOAD_MAX_BYTES).
	MaxUploadBytes int64
	// MaxRequestBytes is the largest body of a request that is not an
	// upload (MAX_REQUEST_BYTES, default 512 KiB: twice the largest text
	// input, 256 KiB, with room for JSON's escapes).
	MaxRequestBytes int64
	// MaxUploadFiles bounds the files of one upload request (default 10).
	MaxUploadFiles int
	// Limits bounds each operation (zero fields take their defaults).
	Limits Limits
	// GraphiQL serves the GraphiQL page at / (GRAPHIQL).
	GraphiQL bool
	// Suggestions lets validation errors suggest names ("Did you mean").
	Suggestions bool
	// RateLimit is the steady number of HTTP requests (and operations on a
	// WebSocket) per second allowed to one user (or, without a token, one
	// address); RateBurst the burst above it. Zero turns rate limiting off.
	RateLimit float64
	RateBurst int
	// CORSOrigins are the origins ("https://app.example.com", or "*")
	// whose browser pages may call the API (CORS_ORIGINS): CORS, the
	// WebSocket's origin check and the multipart origin check follow it.
	CORSOrigins []string
	// TrustedProxies are the load balancers (addresses or CIDR prefixes)
	// whose X-Forwarded-For names the client, for the per-address rate limit.
	TrustedProxies []string
	// Ready reports whether the server accepts work (false while draining).
	Ready func() bool
	// Ping checks the database for /healthz.
	Ping func(ctx context.Context) error
	// Checks are what /readyz checks (the database, Redis, the sandbox).
	Checks []HealthCheck
	// WebSockets, if set, ends the WebSocket connections when the server
	// stops (they close with 1001, so that clients reconnect, to another node).
	WebSockets *graphws.Shutdown
	// Metrics, if set, records HTTP requests, GraphQL operations and
	// errors, rate-limit refusals and WebSockets, and is served at /metrics.
	Metrics *metrics.Metrics
	// TracerProvider traces every GraphQL operation (nil: no traces).
	TracerProvider trace.TracerProvider
}

// NewHandler returns the HTTP API of r's resolvers: GraphiQL at / (when
// enabled), GraphQL at /graphql (POST, GET for queries, multipart uploads,
// WebSocket with graphql-transport-ws and graphql-ws, SSE), /healthz, /livez
// and /readyz, the reports' HTML at /reports/{id}.html, and /metrics when
// cfg.Metrics is set; every request gets an id and an access log line
// (AccessLog).
func NewHandler(r *resolvers.Resolver, cfg Config) (http.Handler, error) {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 512 << 10
	}
	if cfg.MaxUploadFiles <= 0 {
		cfg.MaxUploadFiles = 10
	}
	limits := cfg.Limits.withDefaults()
	origins, err := parseOrigins(cfg.CORSOrigins)
	if err != nil {
		return nil, err
	}
	var limiter *rateLimiter
	if cfg.RateLimit > 0 {
		proxies, err := ParseTrustedProxies(cfg.TrustedProxies)
		if err != nil {
			return nil, err
		}
		limiter = newRateLimiter(cfg.RateLimit, max(cfg.RateBurst, 1), proxies)
		limiter.metrics = cfg.Metrics
	}
	// The published schema (api/schema.graphql): introspection shows what
	// clients generate from, without gqlgen's Go-only directives.
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: r, Schema: sdl.Schema()}))
	srv.AddTransport(&graphws.Transport{
		InitFunc:    wsInit(r.Auth),
		InitTimeout: 10 * time.Second,
		KeepAlive:   15 * time.Second,
		CheckOrigin: wsOriginCheck(origins),
		Shutdown:    cfg.WebSockets,
		Metrics:     cfg.Metrics,
		Allow:       limiter.allowOperation,
		ErrorLog: func(ctx context.Context, err error) {
			r.Logger.Debug().Err(err).Msg("websocket closed")
		},
	})
	jsonHTTP := newHTTPTransport(cfg.MaxRequestBytes, limits.MaxQueryBytes)
	srv.AddTransport(sseTransport{http: jsonHTTP})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(uploadTransport{
		// The files and room for the operations and map parts.
		maxBody:   cfg.MaxUploadBytes + cfg.MaxRequestBytes + maxMapBytes,
		maxParams: cfg.MaxRequestBytes,
		maxFiles:  cfg.MaxUploadFiles,
		maxQuery:  limits.MaxQueryBytes,
		limitName: "UPLOAD_MAX_BYTES",
	})
	srv.AddTransport(jsonHTTP)
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(limits.MaxTokens)
	srv.SetDisableSuggestion(!cfg.Suggestions)
	if limits.Introspection {
		srv.Use(extension.Introspection{})
	}
	// Outermost, so that the others (the access log's recorder) see the span.
	srv.Use(operationTracer{tracing.Tracer(cfg.TracerProvider)})
	srv.Use(operationRecorder{})
	srv.Use(persistedQueries{extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)}})
	srv.Use(newDocumentLimits(limits))
	srv.Use(costLimits{l: limits})
	srv.AroundFields(pageDefaults(limits.DefaultPage))
	if cfg.Metrics != nil {
		srv.Use(operationMetrics{cfg.Metrics})
	}
	// No entgql.Transactioner: a mutation may stream an upload or wait on the
	// sandbox, and on SQLite an open write transaction would block every other
	// writer for that long. Services open short transactions themselves.
	srv.SetErrorPresenter(ErrorPresenter(r.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		logFor(ctx, r.Logger).Error().Str("panic", fmt.Sprint(p)).Msg("panic in resolver")
		return errcode.New(errcode.Internal, "internal error")
	})

	api, err := multipartOriginCheck(origins, srv)
	if err != nil {
		return nil, fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	if limiter != nil {
		api = limiter.middleware(api)
	}
	mux := http.NewServeMux()
	mux.Handle("/graphql", r.Auth.Middleware(api))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cfg.Ready != nil && !cfg.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(health("draining"))
			return
		}
		if cfg.Ping != nil {
			ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
			defer cancel()
			if err := cfg.Ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write(health("database unreachable"))
				return
			}
		}
		w.Write(health("ok"))
	})
	mux.Handle("GET /livez", Livez())
	mux.Handle("GET /readyz", Readyz(cfg.Ready, cfg.Checks))
	mux.Handle("GET /graphql/schema.graphql", sdl.Handler())
	if cfg.GraphiQL {
		gq := graphiql.Handler("/graphql")
		mux.Handle("GET /{$}", gq)                  // the page
		mux.Handle("GET "+graphiql.AssetPrefix, gq) // its embedded assets
	}
	registerReportDownload(mux, r)
	registerFileDownload(mux, r)
	registerChatExport(mux, r)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	return AccessLog(r.Logger, withCORS(origins, cfg.Metrics.InstrumentHTTP(mux))), nil
}

// health is /healthz's body: {"status":"ok","version":"v1.2.3"}.
func health(status string) []byte {
	b, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}{status, buildinfo.Read().Version})
	return b
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
// browser), from the API's own origin, and from CORS_ORIGINS.
func wsOriginCheck(trusted []string) func(*http.Request) bool {
	ok := make(map[string]bool, len(trusted))
	for _, o := range trusted {
		ok[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	return func(req *http.Request) bool {
		origin := req.Header.Get("Origin")
		if origin == "" || anyOrigin(trusted) {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil {
			return false
		}
		return strings.EqualFold(u.Host, req.Host) || ok[strings.ToLower(u.Scheme+"://"+u.Host)]
	}
}
