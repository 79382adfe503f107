package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/graphiql"
)

// browserDir holds the browser test's driver: playwright-core pinned by its
// package-lock.json (`make deps` runs `npm ci` there) and graphiql.mjs.
const browserDir = "testdata/browser"

// chromiumPath is Debian's Chromium, which the driver launches (`make deps`
// installs it); Playwright's own browser builds are never downloaded.
const chromiumPath = "/usr/bin/chromium"

// browserReport is what graphiql.mjs prints.
type browserReport struct {
	Error               string              `json:"error"`
	Requests            []browserRequest    `json:"requests"`
	Blocked             []string            `json:"blocked"`
	WebSockets          []string            `json:"webSockets"`
	WSSent              []wsMessage         `json:"wsSent"`
	WSReceived          []wsMessage         `json:"wsReceived"`
	Console             []string            `json:"console"`
	CSPViolations       []string            `json:"cspViolations"`
	Starter             string              `json:"starter"`
	OperationsMenu      []string            `json:"operationsMenu"`
	ExecuteButtonLabels []string            `json:"executeButtonLabels"`
	RunID               string              `json:"runID"`
	Docs                map[string][]string `json:"docs"`
	Steps               struct {
		CreateGuestSession struct {
			Data struct {
				CreateGuestSession struct {
					Token     string
					ExpiresAt string
					User      struct{ ID string }
				}
			}
		} `json:"createGuestSession"`
		Viewer struct {
			Data struct{ Viewer *struct{ ID string } }
		} `json:"viewer"`
		CreateChat struct {
			Data struct{ CreateChat struct{ ID string } }
		} `json:"createChat"`
		ExecuteCode struct {
			Data struct{ ExecuteCode struct{ ID string } }
		} `json:"executeCode"`
		RunEventsShown []runEventsResponse `json:"runEventsShown"`
		RunEvents      runEventsResponse   `json:"runEvents"`
	} `json:"steps"`
}

// browserRequest is a request of the page, with its response's status (0 when
// it failed).
type browserRequest struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

type runEventsResponse struct {
	Data struct {
		RunEvents struct {
			Seq    int
			Type   string
			Result *struct {
				OK     bool
				Stdout string
			}
		}
	}
	Errors []gqlError
}

// TestGraphiQLBrowser uses GraphiQL, served by the real binary at /, in
// Debian's Chromium (headless, driven by testdata/browser/graphiql.mjs through
// playwright-core), with every request to another host blocked: the page
// loads with its starter document and no request beyond the server; the docs
// explorer shows the schema; the starter's createGuestSession runs from the
// execute button's menu; with the token typed into the Headers pane a viewer
// query answers the same user; createChat and executeCode run; and a runEvents
// subscription over the WebSocket (carrying the token in connection_init)
// shows the run live in the response pane to its end. No console error and
// no Content-Security-Policy violation on the way. Without Node.js 18+,
// playwright-core or /usr/bin/chromium it is skipped, and with CI=true it fails.
func TestGraphiQLBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	node := browserNode(t)
	s := startServer(t, nil)
	origin, _ := url.Parse(s.url)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	shot := filepath.Join(t.ArtifactDir(), "graphiql.png")
	cmd := exec.CommandContext(ctx, node, "graphiql.mjs", s.url, shot)
	cmd.Dir = browserDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var r browserReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node graphiql.mjs: %v; report: %v\n%s%s", runErr, err, out, stderr.String())
	}
	if runErr != nil || r.Error != "" {
		t.Fatalf("node graphiql.mjs: %v: %s\nconsole: %q\nCSP violations: %q\nblocked: %q\nscreenshot: %s (kept with go test -artifacts)\n%s",
			runErr, r.Error, r.Console, r.CSPViolations, r.Blocked, shot, stderr.String())
	}

	// No network beyond the server: nothing blocked, every request and
	// WebSocket to the server, every response 200.
	if len(r.Blocked) > 0 {
		t.Errorf("the page asked for other hosts: %q", r.Blocked)
	}
	for _, req := range r.Requests {
		u, err := url.Parse(req.URL)
		if err != nil || u.Host != origin.Host || req.Status != 200 {
			t.Errorf("request %s: %d %s", req.URL, req.Status, req.Error)
		}
	}
	if want := "ws://" + origin.Host + "/graphql"; len(r.WebSockets) != 1 || r.WebSockets[0] != want {
		t.Errorf("WebSockets %q, want one to %s", r.WebSockets, want)
	}
	if len(r.Console) > 0 || len(r.CSPViolations) > 0 {
		t.Errorf("console %q, CSP violations %q", r.Console, r.CSPViolations)
	}
	// Every script and stylesheet of the page was loaded.
	page, err := httpGet(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`<(?:script|link)\b[^>]*?\s(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		want := s.url + "/" + strings.TrimPrefix(m[1], "/")
		if !slices.ContainsFunc(r.Requests, func(q browserRequest) bool { return q.URL == want && q.Status == 200 }) {
			t.Errorf("the browser did not load %s", want)
		}
	}

	// The starter document, with this server's endpoint in its curl example.
	if want := strings.ReplaceAll(graphiql.Starter(), "{endpoint}", s.url+"/graphql"); r.Starter != want {
		t.Errorf("the editor opened with\n%s\nwant the starter document\n%s", r.Starter, want)
	}
	if want := []string{"CreateGuestSession", "Viewer", "Datasets", "CreateChat", "SendMessage", "ExecuteCode", "RunEvents"}; !slices.Equal(r.OperationsMenu, want) {
		t.Errorf("the execute menu lists %q, want %q", r.OperationsMenu, want)
	}

	// The docs explorer: the schema's types, and Query's fields.
	for _, typ := range []string{"Query", "Mutation", "Subscription", "RunEvent"} {
		if !slices.Contains(r.Docs["types"], typ) {
			t.Errorf("the docs explorer lists %d types, not %s", len(r.Docs["types"]), typ)
		}
	}
	if !slices.Contains(r.Docs["queryFields"], "viewer") {
		t.Errorf("the docs explorer's Query fields %q lack viewer", r.Docs["queryFields"])
	}

	// The mutation, then the query with the token from the Headers pane.
	session := r.Steps.CreateGuestSession.Data.CreateGuestSession
	if session.Token == "" || session.User.ID == "" || session.ExpiresAt == "" {
		t.Fatalf("createGuestSession showed %+v", session)
	}
	if v := r.Steps.Viewer.Data.Viewer; v == nil || v.ID != session.User.ID {
		t.Fatalf("viewer with the token in the Headers pane showed %+v, want user %s", v, session.User.ID)
	}
	var me struct{ Viewer struct{ ID string } }
	s.must(session.Token, `{ viewer { id } }`, nil, &me)
	if me.Viewer.ID != session.User.ID {
		t.Errorf("the page's token is user %q, want %q", me.Viewer.ID, session.User.ID)
	}

	// The subscription: the WebSocket carried the Headers pane's token, the
	// server sent every event of the run in order and then complete; the pane
	// showed the run live (GraphiQL's Stop button while it ran) and its end.
	runID := r.Steps.ExecuteCode.Data.ExecuteCode.ID
	if r.Steps.CreateChat.Data.CreateChat.ID == "" || runID == "" {
		t.Fatalf("createChat, executeCode: %+v", r.Steps)
	}
	if len(r.WSSent) == 0 || r.WSSent[0].Type != "connection_init" {
		t.Fatalf("WebSocket messages sent: %+v", r.WSSent)
	}
	var init map[string]string
	json.Unmarshal(r.WSSent[0].Payload, &init)
	if init["Authorization"] != "Bearer "+session.Token {
		t.Errorf("connection_init payload %s: want the Headers pane's Authorization", r.WSSent[0].Payload)
	}
	var types []string
	stdout := ""
	completed := false
	for _, m := range r.WSReceived {
		switch m.Type {
		case "next":
			var p runEventsResponse
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				t.Fatalf("next %s: %v", m.Payload, err)
			}
			e := p.Data.RunEvents
			if e.Seq != len(types)+1 {
				t.Errorf("event seq %d after %d events", e.Seq, len(types))
			}
			types = append(types, e.Type)
			if e.Type == "EXECUTION_RESULT" && e.Result != nil && e.Result.OK {
				stdout = e.Result.Stdout
			}
		case "complete":
			completed = true
		case "connection_ack", "ping", "pong":
		default:
			t.Errorf("WebSocket message %+v", m)
		}
	}
	if !completed || len(types) == 0 || types[0] != "RUN_STARTED" || types[len(types)-1] != "RUN_SUCCEEDED" || stdout != "42\n" {
		t.Errorf("the subscription received %q (stdout %q, complete %v), want RUN_STARTED ... RUN_SUCCEEDED with 42, then complete", types, stdout, completed)
	}
	shown := r.Steps.RunEventsShown
	if len(shown) < 2 || shown[0].Data.RunEvents.Type == "RUN_SUCCEEDED" {
		t.Errorf("the response pane showed %+v: want the run live before its end", shown)
	}
	for i, e := range shown {
		if i > 0 && e.Data.RunEvents.Seq <= shown[i-1].Data.RunEvents.Seq {
			t.Errorf("the pane showed event %d after %d", e.Data.RunEvents.Seq, shown[i-1].Data.RunEvents.Seq)
		}
	}
	if last := r.Steps.RunEvents.Data.RunEvents; last.Type != "RUN_SUCCEEDED" || last.Seq != len(types) {
		t.Errorf("the pane ended on %+v, want RUN_SUCCEEDED, event %d", last, len(types))
	}
	if !slices.ContainsFunc(r.ExecuteButtonLabels, func(l string) bool { return strings.HasPrefix(l, "Stop") }) {
		t.Errorf("execute button labels %q: never Stop while the subscription ran", r.ExecuteButtonLabels)
	}
	var run struct{ Node struct{ Status string } }
	s.must(session.Token, `query($id: ID!) { node(id: $id) { ... on Run { status } } }`, map[string]any{"id": runID}, &run)
	if run.Node.Status != "SUCCEEDED" {
		t.Errorf("run %s is %s", runID, run.Node.Status)
	}
}

// browserNode returns the path of node (18 or newer, for playwright-core) when
// the driver's packages and Debian's Chromium are installed. Otherwise it
// skips the test, or fails it when CI=true.
func browserNode(t *testing.T) string {
	t.Helper()
	node := nodeFor(t, 18, "playwright-core", browserDir, "playwright-core")
	if _, err := os.Stat(chromiumPath); err != nil {
		unavailable(t, fmt.Sprintf("Chromium not found: %v (make deps installs it)", err))
	}
	return node
}
