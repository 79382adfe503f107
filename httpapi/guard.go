package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/time/rate"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// rateLimiter allows each client (a signed-in user, else a remote address) a
// steady rate of requests with bursts. The limiters of the most recent
// clients are kept; a forgotten client starts again with a full bucket. It is
// safe for concurrent use.
type rateLimiter struct {
	perSecond rate.Limit
	burst     int
	proxies   []netip.Prefix // whose X-Forwarded-For is believed
	mu        sync.Mutex
	clients   *lru.Cache[string, *rate.Limiter]
	metrics   *metrics.Metrics // counts refusals (nil: none)
}

func newRateLimiter(perSecond float64, burst int, proxies []netip.Prefix) *rateLimiter {
	clients, _ := lru.New[string, *rate.Limiter](100_000)
	return &rateLimiter{perSecond: rate.Limit(perSecond), burst: burst, proxies: proxies, clients: clients}
}

func (l *rateLimiter) limiter(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients.Get(key)
	if !ok {
		lim = rate.NewLimiter(l.perSecond, l.burst)
		l.clients.Add(key, lim)
	}
	return lim
}

// middleware answers 429 with RATE_LIMITED and Retry-After when the client
// is over its rate. It runs after authentication, so that a user is limited
// across all their addresses.
func (l *rateLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		key := clientKey(req, l.proxies)
		if secs := l.take(key); secs > 0 {
			l.metrics.RateLimited("http")
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, http.StatusTooManyRequests, errcode.RateLimited,
				fmt.Sprintf("too many requests: retry in %ds (RATE_LIMIT per second, RATE_LIMIT_BURST)", secs))
			return
		}
		// A WebSocket's operations are counted against the same bucket.
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), clientKeyCtx{}, key)))
	})
}

// take takes a token of key's bucket; it returns 0, or the seconds to wait
// when the bucket is empty.
func (l *rateLimiter) take(key string) int {
	r := l.limiter(key).Reserve()
	if delay := r.Delay(); delay > 0 {
		r.Cancel()
		return max(int(math.Ceil(delay.Seconds())), 1)
	}
	return 0
}

// clientKeyCtx is the context key of the rate limiter's key of a request.
type clientKeyCtx struct{}

// allowOperation counts one operation sent on a WebSocket against the bucket
// of its viewer (signed in by connection_init) or of the address that opened
// the socket. A nil limiter allows everything.
func (l *rateLimiter) allowOperation(ctx context.Context) error {
	if l == nil {
		return nil
	}
	key, _ := ctx.Value(clientKeyCtx{}).(string)
	if v := viewer.FromContext(ctx); v != nil && v.UserID != "" {
		key = "user:" + v.UserID
	}
	if secs := l.take(key); secs > 0 {
		l.metrics.RateLimited("websocket")
		return errcode.New(errcode.RateLimited,
			"too many operations: retry in %ds (RATE_LIMIT per second, RATE_LIMIT_BURST)", secs)
	}
	return nil
}

func clientKey(req *http.Request, proxies []netip.Prefix) string {
	if v := viewer.FromContext(req.Context()); v != nil && v.UserID != "" {
		return "user:" + v.UserID
	}
	return "addr:" + clientAddr(req, proxies)
}

// clientAddr is the address a request came from. Behind trusted proxies
// (TRUSTED_PROXIES) it is the right-most X-Forwarded-For address that is not
// a trusted proxy: the left part of the header is the client's to forge.
func clientAddr(req *http.Request, proxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		host = req.RemoteAddr
	}
	trusted := func(a string) bool {
		ip, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			return false
		}
		for _, p := range proxies {
			if p.Contains(ip.Unmap()) {
				return true
			}
		}
		return false
	}
	if len(proxies) == 0 || !trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(req.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !trusted(hop) {
			if _, err := netip.ParseAddr(hop); err != nil {
				return host // a malformed header: the proxy itself is the client
			}
			return hop
		}
		host = hop
	}
	return host
}

// ParseTrustedProxies parses TRUSTED_PROXIES: addresses or CIDR prefixes.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is neither an address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// multipartOriginCheck refuses cross-origin browser form posts (a
// multipart/form-data POST needs no CORS preflight, so a page on another
// site could otherwise submit one) using net/http's Sec-Fetch-Site and
// Origin checks. Requests from non-browser clients and same-origin pages pass;
// JSON posts are governed by CORS preflight as usual.
func multipartOriginCheck(trusted []string, next http.Handler) (http.Handler, error) {
	if anyOrigin(trusted) {
		return next, nil
	}
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "multipart/form-data" {
			if err := cop.Check(req); err != nil {
				writeError(w, http.StatusForbidden, errcode.BadUserInput,
					"cross-origin form uploads are refused: send the request from the API's origin or one in CORS_ORIGINS")
				return
			}
		}
		next.ServeHTTP(w, req)
	}), nil
}

// writeError answers a request refused before GraphQL ran, in GraphQL's
// response shape.
func writeError(w http.ResponseWriter, status int, code errcode.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{{
		Message:    msg,
		Extensions: map[string]any{"code": string(code)},
	}}})
}
