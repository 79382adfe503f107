package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Subprotocol is the WebSocket subprotocol [Client.RunEvents] speaks (a
// constant: safe for concurrent use).
const Subprotocol = "graphql-transport-ws"

// Terminal reports whether t ends a run (RUN_SUCCEEDED, RUN_FAILED,
// RUN_CANCELLED). Safe for concurrent use.
func (t RunEventType) Terminal() bool {
	switch t {
	case RunEventTypeRunSucceeded, RunEventTypeRunFailed, RunEventTypeRunCancelled:
		return true
	}
	return false
}

// Limits of a subscription's WebSocket.
const (
	// maxMessage bounds one message from the server (an event with figures
	// and tables can be large).
	maxMessage = 64 << 20
	// ackTimeout bounds the wait for connection_ack.
	ackTimeout = 15 * time.Second
	// maxBackoff bounds the wait between reconnections.
	maxBackoff = 10 * time.Second
)

// RunEvents follows a run's events with seq > after (0: all of them) over
// the graphql-transport-ws protocol, replayed and then live, until the run's
// terminal event, which is the last one yielded. The token goes in
// connection_init (and the upgrade request's Authorization header).
//
// When the connection drops before the terminal event (a network error, the
// server going away), RunEvents reconnects and resubscribes with after = the
// last seq it yielded, so that each event is yielded once, in order (see
// [WithReconnect]). The server's refusals are not retried: they end the
// iteration with an [*Error] (NOT_FOUND for another user's run, CloseCode 4403
// for a refused token). A stream that the server completes without a
// terminal event (after was already past it) ends without an error.
//
// Each error is yielded with a zero RunEvent and ends the iteration; so does
// ctx's end (ctx.Err(), wrapped). Breaking out of the loop closes the
// connection. The events are read as the loop asks for them: a loop that
// stalls longer than the server's keep-alive interval gets disconnected, and
// resumes. The sequence may be ranged over more than once (each range
// subscribes anew); RunEvents is safe for concurrent use.
func (c *Client) RunEvents(ctx context.Context, runID string, after int) iter.Seq2[RunEvent, error] {
	return func(yield func(RunEvent, error) bool) {
		if c.err != nil {
			yield(RunEvent{}, fmt.Errorf("run events of %s: %w", runID, c.err))
			return
		}
		s := &subscription{c: c, runID: runID, last: after, yield: yield}
		failures := 0
		for {
			progressed, err := s.follow(ctx)
			if s.stopped {
				return
			}
			if ctx.Err() != nil {
				yield(RunEvent{}, fmt.Errorf("run events of %s after seq %d: %w", runID, s.last, ctx.Err()))
				return
			}
			var final *finalError
			if errors.As(err, &final) {
				yield(RunEvent{}, fmt.Errorf("run events of %s: %w", runID, final.err))
				return
			}
			if progressed {
				failures = 0
			}
			failures++
			if failures > c.reconnectAttempts {
				yield(RunEvent{}, fmt.Errorf("run events of %s after seq %d: gave up after %d reconnection attempts without an event: %w",
					runID, s.last, c.reconnectAttempts, err))
				return
			}
			t := time.NewTimer(backoff(c.reconnectBackoff, failures))
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
}

// backoff is the wait before reconnection attempt n (1, 2, ...): first,
// doubled each time, at most maxBackoff.
func backoff(first time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// finalError is an error that reconnecting would not cure.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// subscription is one RunEvents iteration: its position and its consumer.
type subscription struct {
	c       *Client
	runID   string
	last    int // the last seq yielded (or the caller's after)
	yield   func(RunEvent, error) bool
	stopped bool // the iteration is over: never yield again
}

// wsMessage is a graphql-transport-ws message.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// follow runs one connection: it subscribes after s.last and yields events
// until the stream ends (s.stopped) or fails (the error, a *finalError when
// reconnecting would not help). progressed says whether it yielded an event.
func (s *subscription) follow(ctx context.Context) (progressed bool, err error) {
	conn, err := s.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxMessage)

	init := map[string]any{}
	if s.c.token != "" {
		init["Authorization"] = "Bearer " + s.c.token
	}
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": init}); err != nil {
		return false, fmt.Errorf("connection_init: %w", closeErr(err))
	}
	if err := awaitAck(ctx, conn); err != nil {
		return false, err
	}
	const id = "1"
	vars := map[string]any{"runID": s.runID, "after": s.last}
	payload := map[string]any{"query": RunEventsSubscription_Operation, "operationName": "RunEventsSubscription", "variables": vars}
	if err := wsjson.Write(ctx, conn, map[string]any{"id": id, "type": "subscribe", "payload": payload}); err != nil {
		return false, fmt.Errorf("subscribe: %w", closeErr(err))
	}
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return progressed, fmt.Errorf("read: %w", closeErr(err))
		}
		switch m.Type {
		case "ping":
			if err := wsjson.Write(ctx, conn, wsMessage{Type: "pong", Payload: m.Payload}); err != nil {
				return progressed, fmt.Errorf("pong: %w", closeErr(err))
			}
		case "next":
			if m.ID != id {
				continue
			}
			ev, err := decodeNext(m.Payload)
			if err != nil {
				return progressed, err
			}
			if ev.Seq <= s.last {
				continue // seen before a reconnection
			}
			s.last = ev.Seq
			progressed = true
			if !s.yield(ev, nil) {
				s.stopped = true
				_ = wsjson.Write(ctx, conn, wsMessage{ID: id, Type: "complete"})
				conn.Close(websocket.StatusNormalClosure, "")
				return progressed, nil
			}
			if ev.Type.Terminal() {
				s.stopped = true
				conn.Close(websocket.StatusNormalClosure, "")
				return progressed, nil
			}
		case "error":
			if m.ID != id {
				continue
			}
			return progressed, operationError(m.Payload)
		case "complete":
			if m.ID != id {
				continue
			}
			// The server ends the stream after the terminal event, or at
			// once when after is past it.
			s.stopped = true
			conn.Close(websocket.StatusNormalClosure, "")
			return progressed, nil
		}
	}
}

// dial opens a WebSocket to the endpoint, asking for graphql-transport-ws.
func (s *subscription) dial(ctx context.Context) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(ctx, s.c.wsEndpoint, &websocket.DialOptions{
		HTTPClient:   s.c.http,
		Subprotocols: []string{Subprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 &&
			resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return nil, &finalError{&Error{StatusCode: resp.StatusCode, Message: "WebSocket upgrade refused: " + resp.Status}}
		}
		return nil, fmt.Errorf("dial %s: %w", s.c.wsEndpoint, err)
	}
	if p := conn.Subprotocol(); p != Subprotocol {
		conn.CloseNow()
		return nil, &finalError{fmt.Errorf("the server speaks subprotocol %q, not %s", p, Subprotocol)}
	}
	return conn, nil
}

// awaitAck reads until connection_ack, answering pings.
func awaitAck(ctx context.Context, conn *websocket.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return fmt.Errorf("await connection_ack: %w", closeErr(err))
		}
		switch m.Type {
		case "connection_ack":
			return nil
		case "ping":
			if err := wsjson.Write(ctx, conn, wsMessage{Type: "pong", Payload: m.Payload}); err != nil {
				return fmt.Errorf("pong: %w", closeErr(err))
			}
		}
	}
}

// decodeNext decodes a next message's payload: an event, or the errors of a
// response (final, except for codes that ask to retry).
func decodeNext(payload json.RawMessage) (RunEvent, error) {
	var p struct {
		Data   *RunEventsSubscriptionResponse `json:"data"`
		Errors []wireError                    `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return RunEvent{}, &finalError{fmt.Errorf("decode event: %w", err)}
	}
	if len(p.Errors) > 0 {
		return RunEvent{}, classify(wireErrors(p.Errors))
	}
	if p.Data == nil {
		return RunEvent{}, &finalError{errors.New("an event without data")}
	}
	return p.Data.RunEvents.RunEvent, nil
}

// operationError is the error of an error message: a list of GraphQL errors
// (or one, from servers that send an object).
func operationError(payload json.RawMessage) error {
	var list []wireError
	if err := json.Unmarshal(payload, &list); err != nil || len(list) == 0 {
		var one wireError
		if err := json.Unmarshal(payload, &one); err != nil {
			return &finalError{fmt.Errorf("decode error message: %w", err)}
		}
		list = []wireError{one}
	}
	return classify(wireErrors(list))
}

func wireErrors(ws []wireError) Errors {
	es := make(Errors, len(ws))
	for i, w := range ws {
		es[i] = newError(w)
	}
	return es
}

// classify makes the server's errors final, except RATE_LIMITED and
// UNAVAILABLE, which a later attempt (or another server) may not meet.
func classify(es Errors) error {
	switch es[0].Code {
	case CodeRateLimited, CodeUnavailable:
		return es.err()
	}
	return &finalError{es.err()}
}

// closeErr turns a close frame that refuses the client (the protocol's 44xx
// codes other than the init timeout) into a final *Error; other errors
// (drops, going away, timeouts) are left to retry.
func closeErr(err error) error {
	code := websocket.CloseStatus(err)
	switch code {
	case 4400, 4401, 4403, 4409, 4429:
		var ce websocket.CloseError
		errors.As(err, &ce)
		e := &Error{CloseCode: int(code), Message: ce.Reason}
		if code == 4403 {
			e.Code = CodeUnauthenticated
		}
		if e.Message == "" {
			e.Message = fmt.Sprintf("WebSocket closed with %d", code)
		}
		return &finalError{e}
	}
	return err
}
