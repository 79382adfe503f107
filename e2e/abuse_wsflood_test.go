package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// testWSFlood opens one unauthenticated graphql-transport-ws socket and sends
// 500 operations as fast as it can: at most burst + rate + 5 succeed within the
// first second, every other one gets an error RATE_LIMITED, and after a pause
// the same socket runs an operation again.
func testWSFlood(t *testing.T, baseURL string, burst, rate int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	type msg struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
		at      time.Time
	}
	msgs := make(chan msg, 1024)
	readErr := make(chan error, 1)
	if err := wsjson.Write(ctx, c, map[string]any{"type": "connection_init"}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			var m msg
			if err := wsjson.Read(ctx, c, &m); err != nil {
				readErr <- err
				return
			}
			m.at = time.Now()
			if m.Type == "ping" {
				wsjson.Write(ctx, c, map[string]any{"type": "pong"})
				continue
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func() msg {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case err := <-readErr:
			t.Fatalf("the socket closed: %v", err)
		case <-ctx.Done():
			t.Fatal("no message")
		}
		return msg{}
	}
	if m := next(); m.Type != "connection_ack" {
		t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
	subscribe := func(id string) error {
		return wsjson.Write(ctx, c, map[string]any{"type": "subscribe", "id": id,
			"payload": map[string]any{"query": "query { __typename }"}})
	}

	const n = 500
	start := time.Now()
	for i := range n {
		if err := subscribe(strconv.Itoa(i)); err != nil {
			t.Fatalf("subscribe %d: %v", i, err)
		}
	}
	sent := time.Since(start)
	var early, ok, limited int
	others := map[string]int{}
	for done := 0; done < n; {
		m := next()
		switch m.Type {
		case "next":
			ok++
			if m.at.Sub(start) <= time.Second {
				early++
			}
		case "complete":
			done++
		case "error":
			done++
			var errs []gqlError
			json.Unmarshal(m.Payload, &errs)
			if len(errs) > 0 && errs[0].Extensions["code"] == "RATE_LIMITED" {
				limited++
			} else {
				others[string(m.Payload)]++
			}
		}
	}
	t.Logf("sent %d operations in %s: %d succeeded (%d within the first second), %d RATE_LIMITED, in %s",
		n, sent.Round(time.Millisecond), ok, early, limited, time.Since(start).Round(time.Millisecond))
	if max := burst + rate + 5; early > max {
		t.Errorf("%d operations succeeded within the first second, want at most %d (RATE_LIMIT_BURST %d, RATE_LIMIT %d)", early, max, burst, rate)
	}
	if ok == 0 {
		t.Error("no operation succeeded")
	}
	if ok+limited != n {
		t.Errorf("%d succeeded and %d were RATE_LIMITED of %d; other errors: %v", ok, limited, n, others)
	}

	// The socket stays usable.
	time.Sleep(1500 * time.Millisecond)
	if err := subscribe("later"); err != nil {
		t.Fatal(err)
	}
	for {
		m := next()
		if m.ID != "later" {
			continue
		}
		if m.Type != "next" || !strings.Contains(string(m.Payload), `"Query"`) {
			t.Fatalf("after a pause: %s %s, want the operation's result", m.Type, m.Payload)
		}
		return
	}
}
