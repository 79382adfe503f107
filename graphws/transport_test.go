package graphws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/autoanalyst/autoanalyst/graphws"
)

// counter is a schema without generated code: Query.hello, and
// Subscription.count(to) streaming 1..to, one number each time tick sends
// (or at once when tick is nil). last is the context the latest
// subscription's results were asked for with.
type counter struct {
	tick chan struct{}
	last atomic.Pointer[context.Context]
}

var counterSchema = gqlparser.MustLoadSchema(&ast.Source{Input: `
type Query { hello: String! }
type Subscription { count(to: Int!): Int! }
`})

func (c *counter) schema() graphql.ExecutableSchema {
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return counterSchema },
		ComplexityFunc: func(ctx context.Context, typeName, fieldName string, childComplexity int, args map[string]any) (int, bool) {
			return 1, true
		},
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			op := graphql.GetOperationContext(ctx)
			if op.Operation.Operation != ast.Subscription {
				return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"hello":"world"}`)})
			}
			f := op.Operation.SelectionSet[0].(*ast.Field)
			to, _ := f.ArgumentMap(op.Variables)["to"].(int64)
			n := int64(0)
			return func(ctx context.Context) *graphql.Response {
				c.last.Store(&ctx)
				if n == to {
					return nil
				}
				if c.tick != nil {
					select {
					case <-c.tick:
					case <-ctx.Done():
						return nil
					}
				}
				n++
				return &graphql.Response{Data: json.RawMessage(fmt.Sprintf(`{"count":%d}`, n))}
			}
		},
	}
}

type msg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func serve(t *testing.T, tr *graphws.Transport, c *counter) string {
	t.Helper()
	srv := handler.New(c.schema())
	srv.AddTransport(tr)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

func dial(t *testing.T, url, proto string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{proto}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func write(t *testing.T, ws *websocket.Conn, m any) {
	t.Helper()
	if err := wsjson.Write(context.Background(), ws, m); err != nil {
		t.Fatalf("write %v: %v", m, err)
	}
}

// next reads the next message that is not a keep-alive.
func next(t *testing.T, ws *websocket.Conn) (msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		var m msg
		if err := wsjson.Read(ctx, ws, &m); err != nil {
			return m, err
		}
		if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
			return m, nil
		}
	}
}

func want(t *testing.T, ws *websocket.Conn, typ, payload string) msg {
	t.Helper()
	m, err := next(t, ws)
	if err != nil {
		t.Fatalf("want %s %s, got error %v", typ, payload, err)
	}
	if m.Type != typ || (payload != "" && string(m.Payload) != payload) {
		t.Fatalf("got %s %s, want %s %s", m.Type, m.Payload, typ, payload)
	}
	return m
}

// wantClose reads until the server closes the socket, and checks the code.
func wantClose(t *testing.T, ws *websocket.Conn, code int) {
	t.Helper()
	for {
		_, err := next(t, ws)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); int(got) != code {
			t.Fatalf("closed with %v (%v), want %d", got, err, code)
		}
		return
	}
}

func subscribe(proto, id string, to int) map[string]any {
	typ := "subscribe"
	if proto == graphws.LegacyWS {
		typ = "start"
	}
	return map[string]any{"type": typ, "id": id, "payload": map[string]any{
		"query": "subscription($to: Int!) { count(to: $to) }", "variables": map[string]any{"to": to}}}
}

func TestSubscription(t *testing.T) {
	for _, tc := range []struct{ proto, next string }{
		{graphws.TransportWS, "next"},
		{graphws.LegacyWS, "data"},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			ws := dial(t, serve(t, &graphws.Transport{}, &counter{}), tc.proto)
			write(t, ws, map[string]any{"type": "connection_init"})
			want(t, ws, "connection_ack", "")
			write(t, ws, subscribe(tc.proto, "a", 3))
			for i := 1; i <= 3; i++ {
				m := want(t, ws, tc.next, fmt.Sprintf(`{"data":{"count":%d}}`, i))
				if m.ID != "a" {
					t.Fatalf("result for id %q, want a", m.ID)
				}
			}
			want(t, ws, "complete", "")
			// A query over the same socket.
			write(t, ws, map[string]any{"type": subscribe(tc.proto, "", 0)["type"], "id": "q", "payload": map[string]any{"query": "{ hello }"}})
			want(t, ws, tc.next, `{"data":{"hello":"world"}}`)
			want(t, ws, "complete", "")
		})
	}
}

func TestInit(t *testing.T) {
	refuse := func(ctx context.Context, p graphws.InitPayload) (context.Context, error) {
		switch p.Authorization() {
		case "Bearer good":
			return ctx, nil
		case "Bearer unchecked":
			return nil, unavailableError{}
		}
		return nil, errors.New("invalid or expired token")
	}
	cases := []struct {
		name  string
		proto string
		first any    // nil: send nothing
		want  string // a message type before the close, or ""
		code  int
	}{
		{"bad token", graphws.TransportWS, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer bad"}}, "", graphws.CloseForbidden},
		{"bad token, legacy", graphws.LegacyWS, map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer bad"}}, "connection_error", graphws.CloseForbidden},
		{"token not checked", graphws.TransportWS, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer unchecked"}}, "", graphws.CloseTryAgainLater},
		{"subscribe first", graphws.TransportWS, subscribe(graphws.TransportWS, "a", 1), "", graphws.CloseUnauthorized},
		{"not JSON", graphws.TransportWS, "{", "", graphws.CloseBadRequest},
		{"payload not an object", graphws.TransportWS, map[string]any{"type": "connection_init", "payload": 3}, "", graphws.CloseBadRequest},
		{"silence", graphws.TransportWS, nil, "", graphws.CloseInitTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &graphws.Transport{InitFunc: refuse, InitTimeout: 200 * time.Millisecond}
			ws := dial(t, serve(t, tr, &counter{}), tc.proto)
			switch first := tc.first.(type) {
			case nil:
			case string:
				ws.Write(context.Background(), websocket.MessageText, []byte(first))
			default:
				write(t, ws, first)
			}
			if tc.want != "" {
				want(t, ws, tc.want, "")
			}
			wantClose(t, ws, tc.code)
		})
	}
	t.Run("good token", func(t *testing.T) {
		ws := dial(t, serve(t, &graphws.Transport{InitFunc: refuse}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer good"}})
		want(t, ws, "connection_ack", "")
	})
}

// ready returns a socket past connection_ack.
func ready(t *testing.T, url, proto string) *websocket.Conn {
	t.Helper()
	ws := dial(t, url, proto)
	write(t, ws, map[string]any{"type": "connection_init"})
	want(t, ws, "connection_ack", "")
	return ws
}

func TestProtocolErrors(t *testing.T) {
	t.Run("second connection_init", func(t *testing.T) {
		ws := ready(t, serve(t, &graphws.Transport{}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "connection_init"})
		wantClose(t, ws, graphws.CloseTooManyInitialise)
	})
	t.Run("duplicate id", func(t *testing.T) {
		c := &counter{tick: make(chan struct{})}
		ws := ready(t, serve(t, &graphws.Transport{}, c), graphws.TransportWS)
		write(t, ws, subscribe(graphws.TransportWS, "a", 5))
		write(t, ws, subscribe(graphws.TransportWS, "a", 5))
		wantClose(t, ws, graphws.CloseSubscriberExists)
	})
	t.Run("unknown message", func(t *testing.T) {
		ws := ready(t, serve(t, &graphws.Transport{}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "start", "id": "a"})
		wantClose(t, ws, graphws.CloseBadRequest)
	})
	t.Run("invalid operation", func(t *testing.T) {
		ws := ready(t, serve(t, &graphws.Transport{}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "subscribe", "id": "a", "payload": map[string]any{"query": "{ nope }"}})
		m := want(t, ws, "error", "")
		var errs []struct{ Message string }
		if err := json.Unmarshal(m.Payload, &errs); err != nil || len(errs) == 0 || !strings.Contains(errs[0].Message, "nope") {
			t.Fatalf("error payload %s (%v), want a list naming the field", m.Payload, err)
		}
		// The connection goes on.
		write(t, ws, subscribe(graphws.TransportWS, "b", 1))
		want(t, ws, "next", `{"data":{"count":1}}`)
	})
	t.Run("too many operations", func(t *testing.T) {
		c := &counter{tick: make(chan struct{})}
		ws := ready(t, serve(t, &graphws.Transport{MaxOperations: 2}, c), graphws.TransportWS)
		for _, id := range []string{"a", "b", "c"} {
			write(t, ws, subscribe(graphws.TransportWS, id, 5))
		}
		m := want(t, ws, "error", "")
		if m.ID != "c" || !strings.Contains(string(m.Payload), "LIMIT_EXCEEDED") {
			t.Fatalf("got %s %s for %s, want LIMIT_EXCEEDED for c", m.Type, m.Payload, m.ID)
		}
	})
	t.Run("message over the read limit", func(t *testing.T) {
		ws := ready(t, serve(t, &graphws.Transport{ReadLimit: 1024}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "ping", "payload": strings.Repeat("x", 2048)})
		wantClose(t, ws, int(websocket.StatusMessageTooBig))
	})
}

func TestStopAndShutdown(t *testing.T) {
	for _, tc := range []struct{ proto, stop string }{
		{graphws.TransportWS, "complete"},
		{graphws.LegacyWS, "stop"},
	} {
		t.Run("client stops, "+tc.proto, func(t *testing.T) {
			c := &counter{tick: make(chan struct{})}
			ws := ready(t, serve(t, &graphws.Transport{}, c), tc.proto)
			write(t, ws, subscribe(tc.proto, "a", 5))
			c.tick <- struct{}{}
			next(t, ws)
			write(t, ws, map[string]any{"type": tc.stop, "id": "a"})
			select {
			case <-(*c.last.Load()).Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the operation's context was not cancelled")
			}
			// No complete follows a client's stop; the socket stays usable.
			write(t, ws, map[string]any{"type": subscribe(tc.proto, "", 0)["type"], "id": "q", "payload": map[string]any{"query": "{ hello }"}})
			m, err := next(t, ws)
			if err != nil || m.ID != "q" {
				t.Fatalf("after stop: %+v %v, want the query's result", m, err)
			}
		})
	}
	t.Run("shutdown lets a running subscription finish, then closes", func(t *testing.T) {
		sd := &graphws.Shutdown{Grace: 5 * time.Second}
		c := &counter{tick: make(chan struct{}, 2)}
		ws := ready(t, serve(t, &graphws.Transport{Shutdown: sd}, c), graphws.TransportWS)
		write(t, ws, subscribe(graphws.TransportWS, "a", 2))
		c.tick <- struct{}{}
		want(t, ws, "next", `{"data":{"count":1}}`)
		closed := make(chan error, 1)
		go func() { closed <- sd.Close(context.Background()) }()
		time.Sleep(50 * time.Millisecond)
		// No new operation while draining.
		write(t, ws, subscribe(graphws.TransportWS, "b", 1))
		if m := want(t, ws, "error", ""); m.ID != "b" || !strings.Contains(string(m.Payload), "UNAVAILABLE") {
			t.Fatalf("new operation while draining: %+v", m)
		}
		c.tick <- struct{}{}
		want(t, ws, "next", `{"data":{"count":2}}`)
		want(t, ws, "complete", "")
		wantClose(t, ws, graphws.CloseGoingAway)
		if err := <-closed; err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	t.Run("shutdown grace ends a subscription that goes on", func(t *testing.T) {
		sd := &graphws.Shutdown{Grace: 100 * time.Millisecond}
		c := &counter{tick: make(chan struct{})}
		ws := ready(t, serve(t, &graphws.Transport{Shutdown: sd}, c), graphws.TransportWS)
		write(t, ws, subscribe(graphws.TransportWS, "a", 5))
		time.Sleep(50 * time.Millisecond)
		go sd.Close(context.Background())
		wantClose(t, ws, graphws.CloseGoingAway)
	})
	t.Run("ping", func(t *testing.T) {
		ws := ready(t, serve(t, &graphws.Transport{}, &counter{}), graphws.TransportWS)
		write(t, ws, map[string]any{"type": "ping"})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var m msg
		if err := wsjson.Read(ctx, ws, &m); err != nil || m.Type != "pong" {
			t.Fatalf("got %+v %v, want pong", m, err)
		}
	})
	t.Run("legacy keep-alive", func(t *testing.T) {
		ws := dial(t, serve(t, &graphws.Transport{KeepAlive: 50 * time.Millisecond}, &counter{}), graphws.LegacyWS)
		write(t, ws, map[string]any{"type": "connection_init"})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		kas := 0
		for kas < 3 {
			var m msg
			if err := wsjson.Read(ctx, ws, &m); err != nil {
				t.Fatalf("after %d ka: %v", kas, err)
			}
			if m.Type == "ka" {
				kas++
			}
		}
	})
}

func TestOrigin(t *testing.T) {
	tr := &graphws.Transport{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" }}
	url := serve(t, tr, &counter{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{graphws.TransportWS},
		HTTPHeader:   http.Header{"Origin": {"https://evil.example"}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v, want 403", resp, err)
	}
}

// unavailableError is an init refusal because the service could not decide
// (its database is down): it carries the UNAVAILABLE code.
type unavailableError struct{}

func (unavailableError) Error() string     { return "the database is unavailable" }
func (unavailableError) ErrorCode() string { return "UNAVAILABLE" }
