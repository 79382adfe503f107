package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
)

// The abuse suite (issue 14): hostile requests against the real binary, each
// refused or bounded with the status and extensions.code the README documents,
// without growing the server's memory, without logging secrets and without
// logging a client's mistake as a server fault.

const (
	acceptJSON = "application/json"
	acceptGQL  = "application/graphql-response+json"
	// abuseFast is how soon a request refused by a parser or validation limit
	// must be answered (by the race-enabled test binary).
	abuseFast = time.Second
	// abuseMaxGrowth bounds the server's peak memory growth during one
	// memory attack.
	abuseMaxGrowth = 32 << 20
	// abuseUploadMax is the test server's UPLOAD_MAX_BYTES.
	abuseUploadMax = 1 << 20
)

// abuseCanaries are secrets sent in bodies, variables and headers; none may
// reach the server's log.
var abuseCanaries = []string{"CANARY-PASSWORD-8d1f", "CANARY-KEY-33aa", "CANARY-HEADER-77", "CANARY-TOKEN-5e0b"}

// TestAbuse sends each hostile request of issue 14 to the real binary, on
// SQLite and on PostgreSQL (skipped without it, except under CI=true), and
// checks the status, extensions.code and, for the memory attacks, that the
// server's peak memory grows by less than 32 MiB. Then it checks the log: no
// canary secret, no line over 4 KiB, nothing at level error. A second server,
// with UPLOAD_MAX_BYTES of 1 MiB, the default rate limit and the production
// switches off, takes the uploads over the limit, a WebSocket flood and the
// switches. Last, `autoanalyst migarte` must be refused.
func TestAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, db := range []struct {
		name  string
		dbURL func(testing.TB) string
	}{
		{"sqlite", func(testing.TB) string { return "" }},
		{"postgres", databasetest.PostgresURL},
	} {
		t.Run(db.name, func(t *testing.T) { testAbuse(t, db.dbURL(t)) })
	}
	t.Run("unknown subcommand", testUnknownSubcommand)
}

func testAbuse(t *testing.T, databaseURL string) {
	cases := expand(abuseCases())
	env := map[string]string{"RATE_LIMIT": "0"}
	if databaseURL != "" {
		env["DATABASE_URL"] = databaseURL
	}
	srv := startServer(t, env)
	e := &abuseEnv{url: srv.url, token: srv.session()}
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(e.token, `mutation { createChat { id } }`, nil, &chat)
	e.chatID = chat.CreateChat.ID
	for _, c := range cases {
		if !c.small {
			t.Run(c.name, func(t *testing.T) { runAbuseCase(t, srv, e, c) })
		}
	}
	t.Run("log", func(t *testing.T) { checkAbuseLog(t, srv.logs.String()) })
	// A server that did not refuse the costly documents may still be
	// running them: stop it before the next one.
	stopServer(srv)

	// A small UPLOAD_MAX_BYTES, the production switches off, and the rate
	// limit at its default.
	penv := map[string]string{"UPLOAD_MAX_BYTES": strconv.Itoa(abuseUploadMax),
		"INTROSPECTION": "false", "GRAPHQL_SUGGESTIONS": "false", "GRAPHIQL": "false",
		"RATE_LIMIT": "20", "RATE_LIMIT_BURST": "60"}
	if databaseURL != "" {
		penv["DATABASE_URL"] = databaseURL
	}
	prod := startServer(t, penv)
	p := &abuseEnv{url: prod.url, token: prod.session()}
	for _, c := range cases {
		if c.small {
			t.Run(c.name, func(t *testing.T) { runAbuseCase(t, prod, p, c) })
		}
	}
	t.Run("WebSocket flood", func(t *testing.T) { testWSFlood(t, prod.url, 60, 20) })
	t.Run("introspection off", func(t *testing.T) {
		r := mustRoundTrip(t, p.gql("", "{ __schema { types { name } } }", nil, nil), acceptJSON)
		if r.status != 200 || r.code() != "BAD_USER_INPUT" {
			t.Errorf("got %s, want 200 BAD_USER_INPUT", r)
		}
	})
	t.Run("suggestions off", func(t *testing.T) {
		r := mustRoundTrip(t, p.gql("", "{ viewr { id } }", nil, nil), acceptJSON)
		if r.code() != "BAD_USER_INPUT" || strings.Contains(string(r.body), "Did you mean") {
			t.Errorf("got %s, want BAD_USER_INPUT without \"Did you mean\"", r)
		}
	})
	t.Run("GraphiQL off", func(t *testing.T) {
		req, _ := http.NewRequest("GET", prod.url+"/", nil)
		if r := mustRoundTrip(t, req, "text/html"); r.status != 404 {
			t.Errorf("GET / answered %d, want 404", r.status)
		}
	})
	t.Run("log of the second server", func(t *testing.T) { checkAbuseLog(t, prod.logs.String()) })
}

// runAbuseCase sends c's request to srv and checks the answer.
func runAbuseCase(t *testing.T, srv *server, e *abuseEnv, c abuseCase) {
	req := c.req(e)
	req.Header.Set("Accept", c.accept)
	timeout := 30 * time.Second
	if c.fast {
		timeout = 5 * time.Second
	}
	pid := srv.cmd.Process.Pid
	var before int64
	if c.mem {
		// Reset the peak (VmHWM) to the current RSS.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			t.Logf("clear_refs: %v (the peak is measured from the start)", err)
		}
		before = procStatus(t, pid, "VmRSS")
	}
	r, err := roundTrip(req, timeout)
	if c.mem {
		hwm := procStatus(t, pid, "VmHWM")
		t.Logf("VmRSS before %d MiB, VmHWM after %d MiB", before>>20, hwm>>20)
		if growth := hwm - before; growth >= abuseMaxGrowth {
			t.Errorf("the server's memory grew by %d MiB (limit %d MiB)", growth>>20, abuseMaxGrowth>>20)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", r)
	if len(c.wantStatus) > 0 && !slices.Contains(c.wantStatus, r.status) {
		t.Errorf("status %d, want %v: %s", r.status, c.wantStatus, r)
	}
	if c.code != "" && r.code() != c.code {
		t.Errorf("code %q, want %s: %s", r.code(), c.code, r)
	}
	if _, ok := r.keys["data"]; c.noData && ok {
		t.Errorf("a request error has a \"data\" entry: %s", r)
	}
	if c.fast && r.dur > abuseFast {
		t.Errorf("answered in %s, want under %s", r.dur.Round(time.Millisecond), abuseFast)
	}
	if c.check != nil {
		c.check(t, r)
	}
}

// checkAbuseLog checks the server's log after the abuse: no canary secret, no
// line over 4 KiB, no line at level error (a client's mistake is not a server
// fault), no data race.
func checkAbuseLog(t *testing.T, logs string) {
	for _, c := range abuseCanaries {
		if i := strings.Index(logs, c); i >= 0 {
			start := strings.LastIndexByte(logs[:i], '\n') + 1
			t.Errorf("the log holds the secret %s: %.300s", c, logs[start:])
		}
	}
	for _, line := range strings.Split(logs, "\n") {
		if len(line) > 4096 {
			t.Errorf("a log line of %d bytes: %.200s...", len(line), line)
		}
		var l struct{ Level string }
		if json.Unmarshal([]byte(line), &l) == nil && (l.Level == "error" || l.Level == "fatal" || l.Level == "panic") {
			t.Errorf("logged at level %s: %.300s", l.Level, line)
		}
		if strings.Contains(line, "WARNING: DATA RACE") {
			t.Error("the server logged a data race")
		}
	}
}

// testUnknownSubcommand runs `autoanalyst migarte`: it must exit non-zero
// within a few seconds, naming the command, without serving.
func testUnknownSubcommand(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "migarte")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), fmt.Sprintf("PORT=%d", port),
		"DATA_DIR=" + t.TempDir(), "LOG_FORMAT=json"}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	served := make(chan bool, 1)
	go func() {
		for ctx.Err() == nil {
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); err == nil {
				resp.Body.Close()
				served <- true
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	err := cmd.Wait()
	select {
	case <-served:
		t.Error("`autoanalyst migarte` served /healthz")
	default:
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("`autoanalyst migarte` still ran after %s\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	case !errors.As(err, &exit) || exit.ExitCode() <= 0:
		t.Fatalf("`autoanalyst migarte`: %v, want a non-zero exit\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "migarte") {
		t.Errorf("the error does not name the command:\n%s", stderr.String())
	}
}
