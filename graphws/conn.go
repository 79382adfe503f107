package graphws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// conn is one WebSocket connection. The handler goroutine reads it (serve);
// operations write to it from their own goroutines.
type conn struct {
	t     *Transport
	ws    *websocket.Conn
	proto protocol
	exec  graphql.GraphExecutor

	ctx     context.Context // the connection's, from InitFunc
	cancel  context.CancelFunc
	stop    context.CancelFunc // cancels the context serve was given
	payload InitPayload

	wmu    sync.Mutex // serialises writes
	closed bool       // under wmu: a close frame was sent

	mu        sync.Mutex
	ops       map[string]context.CancelFunc // running operations by id
	keepAlive *time.Timer
	draining  bool        // the server is shutting down: no new operations
	drainEnd  *time.Timer // closes the connection when the grace is over
}

// drain stops taking operations and closes the connection once the running
// ones have ended, or when the shutdown's grace is over.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	idle := len(c.ops) == 0
	if !idle {
		c.drainEnd = time.AfterFunc(c.t.Shutdown.grace(), c.goAway)
	}
	c.mu.Unlock()
	if idle {
		c.goAway()
	}
}

func (c *conn) goAway() { c.closeWith(CloseGoingAway, "server shutting down") }

// opEnded closes a draining connection after its last operation.
func (c *conn) opEnded() {
	c.mu.Lock()
	last := c.draining && len(c.ops) == 0
	c.mu.Unlock()
	if last {
		c.goAway()
	}
}

// serve runs the connection: connection_init, then operations until the
// socket closes.
func (c *conn) serve(ctx context.Context) {
	c.ctx, c.stop = context.WithCancel(ctx)
	c.cancel = c.stop
	defer c.shutdown()
	c.t.Metrics.WebSocketOpened()
	defer c.t.Metrics.WebSocketClosed()
	if sd := c.t.Shutdown; sd != nil {
		sd.conns.Add(1)
		defer sd.conns.Done()
		stop := context.AfterFunc(sd.done(), c.drain)
		defer stop()
	}
	if !c.init() {
		return
	}
	c.startKeepAlive()
	for {
		m, err := c.read()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.touch()
		switch m.Type {
		case c.proto.subscribe:
			c.start(m)
		case c.proto.stop:
			c.mu.Lock()
			stop := c.ops[m.ID]
			c.mu.Unlock()
			if stop != nil {
				stop()
			}
		case "ping":
			if !c.proto.legacy {
				c.send(message{Type: "pong", Payload: m.Payload})
			}
		case "pong":
		case "connection_init":
			c.closeWith(CloseTooManyInitialise, "Too many initialisation requests")
			return
		default:
			if m.Type != "" && m.Type == c.proto.terminate {
				c.closeWith(CloseNormal, "terminated")
				return
			}
			c.protocolError(fmt.Sprintf("unexpected message type %q", m.Type))
			return
		}
	}
}

// init waits for connection_init and authenticates it.
func (c *conn) init() bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.t.InitTimeout))
	m, err := c.read()
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			c.closeWith(CloseInitTimeout, "Connection initialisation timeout")
			return false
		}
		c.readFailed(err)
		return false
	}
	switch {
	case m.Type == c.proto.terminate && m.Type != "":
		c.closeWith(CloseNormal, "terminated")
		return false
	case m.Type == c.proto.subscribe:
		c.closeWith(CloseUnauthorized, "Unauthorized")
		return false
	case m.Type != "connection_init":
		c.protocolError(fmt.Sprintf("expected connection_init, got %q", m.Type))
		return false
	}
	if len(bytes.TrimSpace(m.Payload)) > 0 && !bytes.Equal(bytes.TrimSpace(m.Payload), []byte("null")) {
		if err := json.Unmarshal(m.Payload, &c.payload); err != nil {
			c.protocolError("connection_init payload is not a JSON object")
			return false
		}
	}
	if c.t.InitFunc != nil {
		ctx, err := c.t.InitFunc(c.ctx, c.payload)
		if err != nil {
			if c.proto.legacy {
				b, _ := json.Marshal(map[string]string{"message": err.Error()})
				c.send(message{Type: "connection_error", Payload: b})
			}
			// A refusal is 4403, unless the error says the service could
			// not decide (UNAVAILABLE): then 1013, try again later, so that
			// a client reconnects instead of signing its user out.
			code := CloseForbidden
			var coded interface{ ErrorCode() string }
			if errors.As(err, &coded) && coded.ErrorCode() == "UNAVAILABLE" {
				code = CloseTryAgainLater
			}
			c.closeWith(code, err.Error())
			return false
		}
		if ctx != nil {
			c.ctx, c.cancel = context.WithCancel(ctx)
		}
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	c.send(message{Type: "connection_ack"})
	if c.proto.legacy {
		c.send(message{Type: "ka"})
	}
	return true
}

// read returns the next message.
func (c *conn) read() (message, error) {
	var m message
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return m, err
	}
	if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
		return m, errors.New("unexpected frame")
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return m, errInvalidMessage
	}
	return m, nil
}

var errInvalidMessage = errors.New("invalid message: not a JSON object with a type")

// readFailed closes the connection after a read error, telling the client
// why when it broke the protocol.
func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errInvalidMessage):
		c.protocolError(err.Error())
	case errors.Is(err, websocket.ErrReadLimit):
		c.closeWith(websocket.CloseMessageTooBig, fmt.Sprintf("message over %d bytes", c.t.ReadLimit))
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		c.closeWith(CloseNormal, "")
	default:
		if c.t.ErrorLog != nil && !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
			c.t.ErrorLog(c.ctx, fmt.Errorf("websocket read: %w", err))
		}
		_ = c.ws.Close()
	}
}

// protocolError closes the connection for a message the protocol does not
// allow.
func (c *conn) protocolError(reason string) {
	if c.proto.legacy {
		b, _ := json.Marshal(map[string]string{"message": reason})
		c.send(message{Type: "connection_error", Payload: b})
	}
	c.closeWith(CloseBadRequest, reason)
}

// start begins an operation on its own goroutine.
func (c *conn) start(m message) {
	if m.ID == "" {
		c.protocolError(c.proto.subscribe + " without an id")
		return
	}
	var params graphql.RawParams
	// Numbers stay json.Number, as gqlgen's own transports decode them.
	dec := json.NewDecoder(bytes.NewReader(m.Payload))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		c.sendErrors(m.ID, &gqlerror.Error{Message: "invalid operation payload: not a JSON object of query, operationName, variables and extensions",
			Extensions: map[string]any{"code": "BAD_USER_INPUT"}})
		return
	}
	if c.t.Allow != nil {
		if err := c.t.Allow(c.ctx); err != nil {
			code := "LIMIT_EXCEEDED"
			var coded interface{ ErrorCode() string }
			if errors.As(err, &coded) {
				code = coded.ErrorCode()
			}
			c.sendErrors(m.ID, &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": code}})
			return
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}

	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		c.sendErrors(m.ID, &gqlerror.Error{Message: "the server is shutting down: reconnect",
			Extensions: map[string]any{"code": "UNAVAILABLE"}})
		return
	}
	if _, dup := c.ops[m.ID]; dup {
		c.mu.Unlock()
		if c.proto.legacy {
			c.sendErrors(m.ID, &gqlerror.Error{Message: fmt.Sprintf("an operation with id %q is already running", m.ID)})
			return
		}
		c.closeWith(CloseSubscriberExists, fmt.Sprintf("Subscriber for %s already exists", m.ID))
		return
	}
	if len(c.ops) >= c.t.MaxOperations {
		c.mu.Unlock()
		c.sendErrors(m.ID, &gqlerror.Error{
			Message:    fmt.Sprintf("too many operations on this connection (at most %d at once)", c.t.MaxOperations),
			Extensions: map[string]any{"code": "LIMIT_EXCEEDED"},
		})
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	c.ops[m.ID] = cancel
	c.mu.Unlock()

	ctx = graphql.StartOperationTrace(ctx)
	rc, err := c.exec.CreateOperationContext(ctx, &params)
	if err != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), err)
		c.finish(m.ID, cancel)
		c.sendErrors(m.ID, resp.Errors...)
		return
	}
	go c.run(graphql.WithOperationContext(ctx, rc), m.ID, rc, cancel)
}

// run executes one operation and sends its results.
func (c *conn) run(ctx context.Context, id string, rc *graphql.OperationContext, cancel context.CancelFunc) {
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription {
		c.t.Metrics.SubscriptionStarted()
		defer c.t.Metrics.SubscriptionEnded()
	}
	defer func() {
		if p := recover(); p != nil {
			err := rc.Recover(ctx, p)
			var gerr *gqlerror.Error
			if !errors.As(err, &gerr) {
				gerr = &gqlerror.Error{Message: "internal error"}
			}
			c.finish(id, cancel)
			c.sendErrors(id, gerr)
			c.opEnded()
		}
	}()
	responses, ctx := c.exec.DispatchOperation(ctx, rc)
	idJSON, _ := json.Marshal(id)
	for {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		if !c.sendResult(idJSON, resp) {
			break
		}
	}
	// A client that stopped the operation is not told it completed.
	stopped := ctx.Err() != nil
	c.finish(id, cancel)
	if !stopped {
		c.send(message{ID: id, Type: "complete"})
	}
	c.opEnded()
}

// finish forgets a running operation.
func (c *conn) finish(id string, cancel context.CancelFunc) {
	cancel()
	c.mu.Lock()
	delete(c.ops, id)
	c.mu.Unlock()
}

// sendErrors reports an operation that failed before it ran. The legacy
// protocol's error carries one error object; graphql-transport-ws's a list.
func (c *conn) sendErrors(id string, errs ...*gqlerror.Error) {
	var b []byte
	if c.proto.legacy {
		var first *gqlerror.Error
		if len(errs) > 0 {
			first = errs[0]
		}
		b, _ = json.Marshal(first)
	} else {
		b, _ = json.Marshal(errs)
	}
	c.send(message{ID: id, Type: "error", Payload: b})
}

// frames recycles the buffers results are encoded in: a subscriber's
// stream of results should not cost garbage per event beyond gqlgen's own.
var frames = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// sendResult writes one result of the operation whose id is idJSON (a JSON
// string), encoding the frame in one pass: a result with data only (the
// usual event) is spliced, not marshalled twice.
func (c *conn) sendResult(idJSON []byte, resp *graphql.Response) bool {
	buf := frames.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			frames.Put(buf)
		}
	}()
	buf.WriteString(`{"id":`)
	buf.Write(idJSON)
	buf.WriteString(`,"type":"`)
	buf.WriteString(c.proto.next)
	buf.WriteString(`","payload":`)
	if len(resp.Errors) == 0 && len(resp.Extensions) == 0 && resp.Label == "" && resp.Path == nil && resp.HasNext == nil && len(resp.Data) > 0 {
		buf.WriteString(`{"data":`)
		buf.Write(resp.Data)
		buf.WriteByte('}')
	} else {
		b, err := json.Marshal(resp)
		if err != nil {
			panic(fmt.Errorf("marshal response: %w", err))
		}
		buf.Write(b)
	}
	buf.WriteByte('}')
	return c.write(buf.Bytes())
}

// send writes one message; it reports false once the connection is gone.
func (c *conn) send(m message) bool {
	b, err := json.Marshal(m)
	if err != nil {
		return false
	}
	return c.write(b)
}

// write sends one text frame. A write that does not finish in WriteTimeout
// ends the connection.
func (c *conn) write(b []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return false
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.t.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.closed = true
		_ = c.ws.Close()
		c.cancel()
		return false
	}
	return true
}

// closeWith sends a close frame (once) and closes the socket.
func (c *conn) closeWith(code int, reason string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	closeWith(c.ws, code, reason)
}

// shutdown ends every operation and releases the socket.
func (c *conn) shutdown() {
	c.cancel()
	c.stop()
	c.mu.Lock()
	if c.keepAlive != nil {
		c.keepAlive.Stop()
	}
	if c.drainEnd != nil {
		c.drainEnd.Stop()
	}
	c.mu.Unlock()
	_ = c.ws.Close()
}

// startKeepAlive pings every KeepAlive on a timer (no goroutine waits for
// it) and expects to hear from the client within two intervals.
func (c *conn) startKeepAlive() {
	if c.t.KeepAlive < 0 {
		return
	}
	c.ws.SetPongHandler(func(string) error { c.touch(); return nil })
	c.touch()
	c.mu.Lock()
	c.keepAlive = time.AfterFunc(c.t.KeepAlive, c.ping)
	c.mu.Unlock()
}

// touch moves the read deadline: the client was heard from.
func (c *conn) touch() {
	if c.t.KeepAlive > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(2*c.t.KeepAlive + keepAliveGraceOverTwice))
	}
}

func (c *conn) ping() {
	if c.ctx.Err() != nil {
		return
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.t.WriteTimeout)); err != nil {
		return
	}
	if c.proto.legacy && !c.send(message{Type: "ka"}) {
		return
	}
	c.mu.Lock()
	if c.keepAlive != nil && c.ctx.Err() == nil {
		c.keepAlive.Reset(c.t.KeepAlive)
	}
	c.mu.Unlock()
}
