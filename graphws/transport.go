package graphws

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"

	"github.com/autoanalyst/autoanalyst/metrics"
)

// Defaults of a Transport's zero fields.
const (
	DefaultInitTimeout      = 10 * time.Second
	DefaultKeepAlive        = 15 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultReadLimit        = 64 << 10
	DefaultMaxOperations    = 100
	readBufferSize          = 256
	writeBufferSize         = 4 << 10
	maxCloseReasonBytes     = 123
	keepAliveGraceOverTwice = 5 * time.Second
)

// InitFunc authenticates a connection from its connection_init payload. It
// returns the context the connection's operations run in (ctx with, say, the
// viewer), or an error, which closes the socket with 4403 and the error's
// text as the reason; an error with an ErrorCode() of "UNAVAILABLE" (the
// token could not be checked) closes it with 1013, try again later.
type InitFunc func(ctx context.Context, payload InitPayload) (context.Context, error)

// Transport is a gqlgen transport (handler.Server.AddTransport) for GraphQL
// over WebSocket. Its fields are read when a connection starts; set them
// before serving. It is safe for concurrent use.
type Transport struct {
	// InitFunc, if set, authenticates each connection.
	InitFunc InitFunc
	// InitTimeout bounds the wait for connection_init (DefaultInitTimeout).
	InitTimeout time.Duration
	// KeepAlive is the interval of pings (DefaultKeepAlive; negative: none).
	KeepAlive time.Duration
	// WriteTimeout bounds one write to the client (DefaultWriteTimeout); a
	// client that reads slower than that is disconnected.
	WriteTimeout time.Duration
	// ReadLimit is the largest message accepted from a client (DefaultReadLimit).
	ReadLimit int64
	// MaxOperations bounds the operations running at once on one connection
	// (DefaultMaxOperations).
	MaxOperations int
	// CheckOrigin decides whether a browser page of another origin may
	// connect; nil allows every origin (the API authenticates with a token
	// in connection_init, not with cookies).
	CheckOrigin func(r *http.Request) bool
	// Allow, if set, is asked before each operation a client starts; an
	// error refuses that operation (sent as its error, with the error's
	// errcode as extensions.code) and the connection stays open. The
	// server rate-limits operations with it, as it does HTTP requests.
	Allow func(ctx context.Context) error
	// ErrorLog, if set, is told of connections that end on an error.
	ErrorLog func(ctx context.Context, err error)
	// Shutdown, if set, ends the connections when the server stops.
	Shutdown *Shutdown
	// Metrics, if set, counts the open connections and their running
	// subscriptions.
	Metrics *metrics.Metrics

	once     sync.Once
	upgrader websocket.Upgrader
}

var _ graphql.Transport = (*Transport)(nil)

// Supports reports whether r asks for a WebSocket.
func (t *Transport) Supports(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Do upgrades the request and returns; a goroutine of its own serves the
// connection until it closes. Returning lets net/http free what it keeps
// for the request (its buffers, the request, a deep stack), which matters
// with thousands of idle subscribers. The connection's context keeps the
// request context's values (what middleware put there: the viewer), but not
// its cancellation (net/http cancels it when Do returns) nor its headers
// (operations see no RawParams.Headers), so that the request is freed.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.once.Do(t.setDefaults)
	ws, err := t.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered with an HTTP error.
		return
	}
	p, err := protocolFor(ws.Subprotocol())
	if err != nil {
		closeWith(ws, CloseBadRequest, err.Error())
		return
	}
	ws.SetReadLimit(t.ReadLimit)
	c := &conn{
		t:     t,
		ws:    ws,
		proto: p,
		exec:  exec,
		ops:   map[string]context.CancelFunc{},
	}
	go c.serve(context.WithoutCancel(r.Context()))
}

func (t *Transport) setDefaults() {
	if t.InitTimeout <= 0 {
		t.InitTimeout = DefaultInitTimeout
	}
	if t.KeepAlive == 0 {
		t.KeepAlive = DefaultKeepAlive
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = DefaultWriteTimeout
	}
	if t.ReadLimit <= 0 {
		t.ReadLimit = DefaultReadLimit
	}
	if t.MaxOperations <= 0 {
		t.MaxOperations = DefaultMaxOperations
	}
	check := t.CheckOrigin
	if check == nil {
		check = func(*http.Request) bool { return true }
	}
	t.upgrader = websocket.Upgrader{
		HandshakeTimeout: t.InitTimeout,
		// A small reader of its own, so the HTTP server's 4 KiB one is
		// freed, and write buffers only while writing.
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{TransportWS, LegacyWS},
		CheckOrigin:     check,
	}
}

// closeWith sends a close frame with code and reason, then closes the socket.
func closeWith(ws *websocket.Conn, code int, reason string) {
	if len(reason) > maxCloseReasonBytes {
		reason = strings.ToValidUTF8(reason[:maxCloseReasonBytes], "")
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = ws.Close()
}
