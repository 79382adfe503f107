package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/autoanalyst/autoanalyst/client"
)

// wsConn is one subscription on the fake server, for a script to answer.
type wsConn struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
	id   string // the subscribe message's id
}

// event sends the next message of a RunEvent.
func (c *wsConn) event(seq int, typ string) {
	ev := map[string]any{"seq": seq, "type": typ, "at": "2026-01-02T03:04:05Z"}
	if typ == "EXECUTION_RESULT" {
		ev["result"] = map[string]any{"ok": true, "stdout": fmt.Sprintf("out %d\n", seq)}
	}
	c.send("next", map[string]any{"data": map[string]any{"runEvents": ev}})
}

func (c *wsConn) send(typ string, payload any) {
	m := map[string]any{"id": c.id, "type": typ}
	if payload != nil {
		m["payload"] = payload
	}
	if err := wsjson.Write(c.ctx, c.conn, m); err != nil {
		c.t.Errorf("fake server: write %s: %v", typ, err)
	}
}

// gqlError sends an error message with one error of code.
func (c *wsConn) gqlError(code string) {
	c.send("error", []any{map[string]any{"message": "refused", "extensions": map[string]any{"code": code}}})
}

// fakeServer speaks graphql-transport-ws: it checks connection_init, acks,
// reads the subscription, and hands the connection to the script of its
// turn; a script that returns without closing leaves the connection open
// (the client closes it). It records each subscription's after.
type fakeServer struct {
	t       *testing.T
	scripts []func(*wsConn)
	mu      sync.Mutex
	afters  []int
	inits   []string // connection_init's Authorization
	done    []string // "complete" messages from the client, by subscription
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		f.t.Errorf("accept: %v", err)
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	var init struct {
		Type    string         `json:"type"`
		Payload map[string]any `json:"payload"`
	}
	if err := wsjson.Read(ctx, conn, &init); err != nil || init.Type != "connection_init" {
		f.t.Errorf("connection_init: %v %+v", err, init)
		return
	}
	auth, _ := init.Payload["Authorization"].(string)
	f.mu.Lock()
	n := len(f.inits)
	f.inits = append(f.inits, auth)
	f.mu.Unlock()
	if n >= len(f.scripts) {
		f.t.Errorf("connection %d: no script for it", n+1)
		return
	}
	if auth != "Bearer tok" {
		conn.Close(4403, "invalid or expired token")
		return
	}
	wsjson.Write(ctx, conn, map[string]any{"type": "connection_ack"})
	var sub struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Payload struct {
			Query     string `json:"query"`
			Variables struct {
				RunID string `json:"runID"`
				After int    `json:"after"`
			} `json:"variables"`
		} `json:"payload"`
	}
	if err := wsjson.Read(ctx, conn, &sub); err != nil || sub.Type != "subscribe" || sub.Payload.Variables.RunID != "run_1" ||
		!strings.Contains(sub.Payload.Query, "runEvents(runID: $runID, after: $after)") {
		f.t.Errorf("subscribe: %v %+v", err, sub)
		return
	}
	f.mu.Lock()
	f.afters = append(f.afters, sub.Payload.Variables.After)
	f.mu.Unlock()
	f.scripts[n](&wsConn{t: f.t, ctx: ctx, conn: conn, id: sub.ID})
	// Read until the client closes (answering its close handshake), noting
	// a complete.
	for {
		var m struct{ ID, Type string }
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return
		}
		if m.Type == "complete" {
			f.mu.Lock()
			f.done = append(f.done, m.ID)
			f.mu.Unlock()
		}
	}
}

// drop ends a connection without a close frame, as a network failure does.
func drop(c *wsConn) { c.conn.CloseNow() }

func TestRunEventsResume(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		after      int
		scripts    []func(*wsConn)
		stopAfter  int    // break out of the loop after this many events (0: never)
		wantSeqs   []int  // the events seen, in order
		wantAfters []int  // each subscription's after
		wantCode   string // the final error's code ("" for no error)
		wantClose  int    // the final error's close code
		wantErr    string // a part of the final error
		wantDone   int    // complete messages the client sent
	}{
		{
			name: "a drop mid-stream resumes after the last seq, once each",
			scripts: []func(*wsConn){
				func(c *wsConn) { c.event(1, "RUN_STARTED"); c.event(2, "EXECUTION_STARTED"); drop(c) },
				// The server replays from after; a repeated event is not seen twice.
				func(c *wsConn) {
					c.event(2, "EXECUTION_STARTED")
					c.event(3, "EXECUTION_RESULT")
					c.event(4, "RUN_SUCCEEDED")
					c.send("complete", nil)
				},
			},
			wantSeqs:   []int{1, 2, 3, 4},
			wantAfters: []int{0, 2},
		},
		{
			name:  "several drops, from the caller's after",
			after: 3,
			scripts: []func(*wsConn){
				func(c *wsConn) { c.event(4, "TOKEN"); drop(c) },
				func(c *wsConn) { c.conn.Close(websocket.StatusGoingAway, "server shutting down") },
				func(c *wsConn) { c.event(5, "TOKEN"); c.event(6, "TOKEN"); drop(c) },
				func(c *wsConn) { c.event(7, "RUN_FAILED") },
			},
			wantSeqs:   []int{4, 5, 6, 7},
			wantAfters: []int{3, 4, 4, 6},
		},
		{
			name: "RATE_LIMITED is retried",
			scripts: []func(*wsConn){
				func(c *wsConn) { c.gqlError("RATE_LIMITED") },
				func(c *wsConn) { c.event(1, "RUN_STARTED"); c.event(2, "RUN_CANCELLED") },
			},
			wantSeqs:   []int{1, 2},
			wantAfters: []int{0, 0},
		},
		{
			name:       "NOT_FOUND is final",
			scripts:    []func(*wsConn){func(c *wsConn) { c.gqlError("NOT_FOUND") }},
			wantAfters: []int{0},
			wantCode:   client.CodeNotFound,
		},
		{
			name:      "a refused token is final",
			token:     "bad",
			scripts:   []func(*wsConn){nil},
			wantCode:  client.CodeUnauthenticated,
			wantClose: 4403,
			wantErr:   "invalid or expired token",
		},
		{
			name: "gives up after the reconnect attempts",
			scripts: []func(*wsConn){
				func(c *wsConn) { c.event(1, "RUN_STARTED"); drop(c) },
				drop, drop,
			},
			wantSeqs:   []int{1},
			wantAfters: []int{0, 1, 1},
			wantErr:    "gave up after 2 reconnection attempts",
		},
		{
			name:       "a stream completed before a terminal event ends without error",
			after:      9,
			scripts:    []func(*wsConn){func(c *wsConn) { c.send("complete", nil) }},
			wantAfters: []int{9},
		},
		{
			name:       "breaking out of the loop completes the subscription",
			scripts:    []func(*wsConn){func(c *wsConn) { c.event(1, "RUN_STARTED"); c.event(2, "PLAN") }},
			stopAfter:  1,
			wantSeqs:   []int{1},
			wantAfters: []int{0},
			wantDone:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{t: t, scripts: tt.scripts}
			srv := httptest.NewServer(f)
			defer srv.Close()
			token := tt.token
			if token == "" {
				token = "tok"
			}
			c := client.New(srv.URL+"/graphql", client.WithToken(token), client.WithReconnect(2, time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			var seqs []int
			var final error
			for ev, err := range c.RunEvents(ctx, "run_1", tt.after) {
				if err != nil {
					final = err
					continue // the iteration ends after an error
				}
				seqs = append(seqs, ev.Seq)
				if ev.Type == client.RunEventTypeExecutionResult && ev.Result.Stdout != fmt.Sprintf("out %d\n", ev.Seq) {
					t.Errorf("event %d result = %+v", ev.Seq, ev.Result)
				}
				if len(seqs) == tt.stopAfter {
					break
				}
			}
			if !slices.Equal(seqs, tt.wantSeqs) {
				t.Errorf("seqs = %v, want %v", seqs, tt.wantSeqs)
			}
			f.mu.Lock()
			afters, inits := f.afters, f.inits
			f.mu.Unlock()
			if !slices.Equal(afters, tt.wantAfters) {
				t.Errorf("afters = %v, want %v", afters, tt.wantAfters)
			}
			for _, a := range inits {
				if a != "Bearer "+token {
					t.Errorf("connection_init Authorization = %q", a)
				}
			}
			if tt.wantCode == "" && tt.wantErr == "" {
				if final != nil {
					t.Fatalf("error: %v", final)
				}
			} else {
				var e *client.Error
				if final == nil || !strings.Contains(final.Error(), tt.wantErr) ||
					(tt.wantCode != "" && (!errors.As(final, &e) || e.Code != tt.wantCode || e.CloseCode != tt.wantClose)) {
					t.Fatalf("error = %v (%#v), want code %q, close %d, %q", final, e, tt.wantCode, tt.wantClose, tt.wantErr)
				}
			}
			if tt.wantDone > 0 {
				deadline := time.Now().Add(5 * time.Second)
				for {
					f.mu.Lock()
					n := len(f.done)
					f.mu.Unlock()
					if n == tt.wantDone || time.Now().After(deadline) {
						if n != tt.wantDone {
							t.Errorf("the client sent %d complete messages, want %d", n, tt.wantDone)
						}
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// TestRunEventsContext ends a subscription that waits for events with its
// context.
func TestRunEventsContext(t *testing.T) {
	f := &fakeServer{t: t, scripts: []func(*wsConn){func(c *wsConn) { c.event(1, "RUN_STARTED") }}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seqs []int
	var final error
	for ev, err := range client.New(srv.URL, client.WithToken("tok")).RunEvents(ctx, "run_1", 0) {
		if err != nil {
			final = err
			continue
		}
		seqs = append(seqs, ev.Seq)
		cancel()
	}
	if !slices.Equal(seqs, []int{1}) || !errors.Is(final, context.Canceled) {
		t.Fatalf("seqs %v, error %v; want [1] and context.Canceled", seqs, final)
	}
}

// TestRunEventsDecodes checks that an event's fields arrive typed.
func TestRunEventsDecodes(t *testing.T) {
	f := &fakeServer{t: t, scripts: []func(*wsConn){func(c *wsConn) {
		c.send("next", json.RawMessage(`{"data":{"runEvents":{"seq":1,"type":"PLAN","at":"2026-01-02T03:04:05Z",
			"plan":{"complexity":"DIRECT","steps":[{"agent":"data_viz_agent","instruction":"chart","create":["fig"],"use":["df"]}]}}}}`))
		c.send("next", json.RawMessage(`{"data":{"runEvents":{"seq":2,"type":"RUN_FAILED","at":"2026-01-02T03:04:06Z",
			"errorCode":"MODEL_NOT_CONFIGURED","text":"set OPENAI_API_KEY",
			"result":{"ok":false,"figures":[{"data":[],"layout":{}}],"tables":[{"columns":["a"],"rows":[[1],[null]],"truncated":false}]}}}}`))
	}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var evs []client.RunEvent
	for ev, err := range client.New(srv.URL, client.WithToken("tok")).RunEvents(context.Background(), "run_1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
	plan, failed := evs[0], evs[1]
	if plan.Plan == nil || plan.Plan.Complexity != client.PlanComplexityDirect || plan.Plan.Steps[0].Create[0] != "fig" || plan.Result != nil {
		t.Errorf("PLAN event = %+v", plan)
	}
	if !failed.Type.Terminal() || failed.ErrorCode != client.RunErrorCodeModelNotConfigured || failed.At.Second() != 6 {
		t.Errorf("RUN_FAILED event = %+v", failed)
	}
	r := failed.Result
	if r == nil || string(r.Figures[0]) != `{"data":[],"layout":{}}` || string(r.Tables[0].Rows[1][0]) != "null" {
		t.Errorf("result = %+v", r)
	}
}
