package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// corsPage calls the API given in its ?api= from its own origin: a JSON POST
// with an Authorization header (which needs a CORS preflight) and a
// WebSocket, as a frontend on another origin would.
const corsPage = `<!doctype html><title>cors</title><script>
(async () => {
  const api = new URLSearchParams(location.search).get('api');
  const out = {};
  try {
    const r = await fetch(api + '/graphql', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer not-a-token'},
      body: JSON.stringify({query: '{ __typename }'})});
    out.fetch = {status: r.status, body: await r.text()};
  } catch (e) { out.fetch = {error: String(e)}; }
  out.ws = await new Promise((done) => {
    const ws = new WebSocket(api.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
    ws.onopen = () => ws.send(JSON.stringify({type: 'connection_init'}));
    ws.onmessage = (m) => { done({message: m.data}); ws.close(); };
    ws.onclose = (e) => done({closed: e.code});
    setTimeout(() => done({timeout: true}), 10000);
  });
  window.result = out;
})();
</script>`

// corsResult is what a page could do.
type corsResult struct {
	Fetch struct {
		Status int
		Body   string
		Error  string
	}
	WS struct {
		Message string
		Closed  int
		Timeout bool
	}
}

// TestCORSBrowser serves a page from an origin in CORS_ORIGINS and one from
// another origin, and loads both in Debian's Chromium: the first calls the
// API (a preflighted POST, and a WebSocket that gets connection_ack); the
// browser refuses the second's POST (no Access-Control-Allow-Origin), and
// the server refuses its WebSocket. Skipped without Node.js, playwright-core
// or Chromium; with CI=true it fails instead.
func TestCORSBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	node := browserNode(t)
	serve := func() *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, corsPage)
		}))
		t.Cleanup(s.Close)
		return s
	}
	allowed, other := serve(), serve()
	api := startServer(t, map[string]string{"CORS_ORIGINS": allowed.URL})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pageOf := func(s *httptest.Server) string { return s.URL + "/?api=" + url.QueryEscape(api.url) }
	cmd := exec.CommandContext(ctx, node, "cors.mjs", pageOf(allowed), pageOf(other))
	cmd.Dir = browserDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node cors.mjs: %v\n%s%s", err, out, stderr.String())
	}
	var report map[string]corsResult
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	ok, refused := report[pageOf(allowed)], report[pageOf(other)]
	if ok.Fetch.Status != http.StatusOK || !strings.Contains(ok.Fetch.Body, `"__typename":"Query"`) {
		t.Errorf("the page of an allowed origin: fetch %+v", ok.Fetch)
	}
	if !strings.Contains(ok.WS.Message, "connection_ack") {
		t.Errorf("the page of an allowed origin: WebSocket %+v, want connection_ack", ok.WS)
	}
	if refused.Fetch.Error == "" || refused.Fetch.Status != 0 {
		t.Errorf("the page of another origin: fetch %+v, want the browser to refuse it", refused.Fetch)
	}
	if refused.WS.Message != "" {
		t.Errorf("the page of another origin: WebSocket %+v, want it refused", refused.WS)
	}
}
