package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Khan/genqlient/graphql"
)

// Client calls one Auto-Analyst server: queries and mutations over HTTP
// (MakeRequest, used by the generated functions), multipart uploads and run
// events over a WebSocket.
//
// A Client is immutable once made: it is safe for concurrent use by multiple
// goroutines. [Client.WithToken] returns a new Client for another token.
type Client struct {
	endpoint   string // http(s)://host/graphql
	wsEndpoint string // ws(s)://host/graphql
	host       string // the endpoint's host: the token goes only there
	token      string
	base       *http.Client // the caller's client, or a default one
	http       *http.Client // base with the bearer token added
	err        error        // a bad endpoint, reported by every call

	reconnectAttempts int
	reconnectBackoff  time.Duration
}

var _ graphql.Client = (*Client)(nil)

// Option configures a Client made by [New]. Options are plain functions:
// safe to share and reuse.
type Option func(*Client)

// WithToken sends token as "Authorization: Bearer <token>" with every request
// and in the connection_init of every WebSocket. Safe for concurrent use.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient makes requests with hc (its Transport, Timeout, Jar...)
// instead of a default client. The WebSocket of [Client.RunEvents] uses its
// Transport too, bounded by the context rather than hc.Timeout. hc itself is
// not changed (the Client wraps a copy). Safe for concurrent use.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.base = hc
		}
	}
}

// WithReconnect sets how [Client.RunEvents] resumes after a dropped
// connection: at most attempts reconnections in a row without an event in
// between (default 10; 0 never reconnects), the first after backoff (default
// 200ms), each later one after twice the previous wait, up to 10s. Safe for
// concurrent use.
func WithReconnect(attempts int, backoff time.Duration) Option {
	return func(c *Client) {
		c.reconnectAttempts = max(attempts, 0)
		if backoff > 0 {
			c.reconnectBackoff = backoff
		}
	}
}

// New returns a Client for the GraphQL endpoint, e.g.
// "http://localhost:8000/graphql" (a URL without a path gets /graphql). An
// endpoint that does not parse makes every call fail with that error. New is
// safe for concurrent use, and so is the Client it returns.
func New(endpoint string, opts ...Option) *Client {
	c := &Client{
		base:              &http.Client{},
		reconnectAttempts: 10,
		reconnectBackoff:  200 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		c.err = fmt.Errorf("client: endpoint %q: %w", endpoint, err)
	case u.Scheme != "http" && u.Scheme != "https":
		c.err = fmt.Errorf("client: endpoint %q: scheme must be http or https", endpoint)
	case u.Host == "":
		c.err = fmt.Errorf("client: endpoint %q has no host", endpoint)
	default:
		if u.Path == "" || u.Path == "/" {
			u.Path = "/graphql"
		}
		c.endpoint = u.String()
		c.host = u.Host
		ws := *u
		ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
		c.wsEndpoint = ws.String()
	}
	c.wrap()
	return c
}

// wrap makes c.http: c.base whose transport adds the bearer token to
// requests for the endpoint's host.
func (c *Client) wrap() {
	hc := *c.base
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &bearerTransport{base: base, host: c.host, token: c.token}
	c.http = &hc
}

// WithToken returns a copy of c that sends token instead of c's (an empty
// token sends none). c itself is not changed: safe for concurrent use.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	cp.wrap()
	return &cp
}

// Endpoint returns the GraphQL endpoint's URL ("" when it did not parse).
// Safe for concurrent use.
func (c *Client) Endpoint() string { return c.endpoint }

// HTTPClient returns the http.Client that c sends requests with: the one of
// [WithHTTPClient] (or a default one) with "Authorization: Bearer <token>"
// added to requests for the endpoint's host. Use it for the server's plain
// HTTP routes, such as a report's download URL. Safe for concurrent use.
func (c *Client) HTTPClient() *http.Client { return c.http }

// bearerTransport adds the Authorization header to requests for one host.
type bearerTransport struct {
	base  http.RoundTripper
	host  string
	token string
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token == "" || req.URL.Host != t.host || req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// MakeRequest sends one query or mutation and decodes its response into
// resp.Data; it implements genqlient's graphql.Client for the generated
// functions. Variables holding an [Upload] are sent as a GraphQL multipart
// request. The server's errors come back as an [*Error] (one) or [Errors]
// (several), wrapped with the operation's name; resp.Data holds whatever data
// came with them. Safe for concurrent use.
func (c *Client) MakeRequest(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	op := req.OpName
	if op == "" {
		op = "operation"
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w", op, c.err)
	}
	if strings.HasPrefix(strings.TrimSpace(req.Query), "subscription") {
		return fmt.Errorf("%s: subscriptions go over a WebSocket: use (*Client).RunEvents", op)
	}
	if err := c.do(ctx, req, resp); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, req *graphql.Request, resp *graphql.Response) error {
	uploads, err := findUploads(req.Variables)
	if err != nil {
		return err
	}
	var httpReq *http.Request
	var finish func() // waits for a multipart writer
	if len(uploads) > 0 {
		httpReq, finish, err = c.multipartRequest(ctx, req, uploads)
	} else {
		var body []byte
		body, err = json.Marshal(req)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		httpReq, err = http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
		if err == nil {
			httpReq.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return err
	}
	if finish != nil {
		defer finish()
	}
	httpReq.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")
	httpResp, err := c.http.Do(httpReq)
	if err != nil {
		return err
	}
	defer httpResp.Body.Close()
	return decodeResponse(httpResp, resp)
}

// wireResponse is a GraphQL response as the server sends it.
type wireResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     []wireError     `json:"errors"`
	Extensions map[string]any  `json:"extensions"`
}

type wireError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// maxErrorBody bounds how much of a non-GraphQL error body is quoted.
const maxErrorBody = 512

func decodeResponse(httpResp *http.Response, resp *graphql.Response) error {
	body, err := io.ReadAll(httpResp.Body)
	if err != nil {
		return fmt.Errorf("read response (HTTP %d): %w", httpResp.StatusCode, err)
	}
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil || (w.Data == nil && len(w.Errors) == 0) {
		if httpResp.StatusCode != http.StatusOK {
			return &Error{StatusCode: httpResp.StatusCode, Message: httpMessage(httpResp, body)}
		}
		if err == nil {
			err = errors.New("neither data nor errors")
		}
		return fmt.Errorf("decode response: %w", err)
	}
	resp.Extensions = w.Extensions
	if len(w.Data) > 0 && string(w.Data) != "null" && resp.Data != nil {
		if err := json.Unmarshal(w.Data, resp.Data); err != nil {
			return fmt.Errorf("decode data: %w", err)
		}
	}
	if len(w.Errors) == 0 {
		if httpResp.StatusCode != http.StatusOK {
			return &Error{StatusCode: httpResp.StatusCode, Message: httpMessage(httpResp, body)}
		}
		return nil
	}
	errs := make(Errors, len(w.Errors))
	for i, we := range w.Errors {
		errs[i] = newError(we)
		if httpResp.StatusCode != http.StatusOK {
			errs[i].StatusCode = httpResp.StatusCode
			errs[i].RetryAfter = retryAfter(httpResp.Header.Get("Retry-After"))
		}
	}
	return errs.err()
}

// httpMessage is the message of an HTTP error without a GraphQL body: the
// start of the body, or the status's text.
func httpMessage(r *http.Response, body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return http.StatusText(r.StatusCode)
	}
	if len(s) > maxErrorBody {
		s = s[:maxErrorBody] + "…"
	}
	return s
}

func retryAfter(h string) time.Duration {
	var secs int
	if _, err := fmt.Sscanf(h, "%d", &secs); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}
