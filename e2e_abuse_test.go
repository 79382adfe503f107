package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

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

// abuseEnv is what a case's request is built from: the server and a signed-in
// user with a chat.
type abuseEnv struct {
	url    string
	token  string
	chatID string
}

// post builds a POST to /graphql. A chunked body is sent with
// Transfer-Encoding: chunked (its length is unknown to the client); otherwise
// its Content-Length is declared.
func (e *abuseEnv) post(contentType, token string, body abuseBody, chunked bool) *http.Request {
	req, _ := http.NewRequest("POST", e.url+"/graphql", body.reader())
	if !chunked {
		req.ContentLength = body.size()
		if req.ContentLength == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// gql builds a JSON POST of a GraphQL request (query, variables, extensions:
// whichever are set).
func (e *abuseEnv) gql(token, query string, vars map[string]any, ext map[string]any) *http.Request {
	m := map[string]any{"query": query}
	for k, v := range map[string]map[string]any{"variables": vars, "extensions": ext} {
		if v != nil {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return e.post(acceptJSON, token, bodyOf(string(b)), false)
}

// jsonBody builds a JSON POST of a raw body.
func (e *abuseEnv) jsonBody(s string) *http.Request { return e.post(acceptJSON, "", bodyOf(s), false) }

// multipartBody is a multipart/form-data body: the fields (name, value) in
// order, then small files named "0", "1"..., or, with big > 0, one file "0"
// of big bytes of CSV.
func multipartBody(fields [][2]string, small int, big int64) (abuseBody, string) {
	const boundary = "abuse-boundary-7f3c"
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, f[0], f[1])
	}
	file := func(i int) {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"%d\"; filename=\"%d.csv\"\r\nContent-Type: text/csv\r\n\r\n", boundary, i, i)
	}
	for i := range small {
		file(i)
		b.WriteString("a,b\n1,2\n\r\n")
	}
	body := abuseBody{suffix: "--" + boundary + "--\r\n"}
	if big > 0 {
		file(0)
		body.pat, body.n = "a,b\n1,2\n", big
		body.suffix = "\r\n" + body.suffix
	}
	body.prefix = b.String()
	return body, "multipart/form-data; boundary=" + boundary
}

// operations is the multipart spec's operations field.
func operations(query string, vars map[string]any) [2]string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return [2]string{"operations", string(b)}
}

// upload builds a multipart upload of uploadDataset with its map.
func (e *abuseEnv) upload(token, fmap string, small int, big int64, chunked bool) *http.Request {
	body, ct := multipartBody([][2]string{operations(uploadMutation, map[string]any{"f": nil}), {"map", fmap}}, small, big)
	return e.post(ct, token, body, chunked)
}

// abuseResp is what the server answered.
type abuseResp struct {
	status int
	header http.Header
	body   []byte
	dur    time.Duration
	keys   map[string]json.RawMessage // the body's top-level keys; nil if it is not a JSON object
	gql    gqlResponse
}

func (r *abuseResp) code() string { return r.gql.code() }

func (r *abuseResp) String() string {
	b := r.body
	if len(b) > 300 {
		b = append(b[:300:300], "..."...)
	}
	return fmt.Sprintf("%d %s in %s: %s", r.status, r.code(), r.dur.Round(time.Millisecond), b)
}

// roundTrip sends req on a connection of its own and reads the answer while
// the body is still being written: a server may answer and close before
// reading a body it refuses, which net/http's client can report as a write
// error instead of the answer.
func roundTrip(req *http.Request, timeout time.Duration) (*abuseResp, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	req.Close = true
	req.Header.Set("X-Canary", "CANARY-HEADER-77")
	start := time.Now()
	go req.Write(conn) // a write cut short by the server shows in the answer
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, fmt.Errorf("no answer after %s: %w", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer (%d): %w", resp.StatusCode, err)
	}
	r := &abuseResp{status: resp.StatusCode, header: resp.Header, body: body, dur: time.Since(start)}
	if json.Unmarshal(body, &r.keys) == nil {
		json.Unmarshal(body, &r.gql)
	}
	return r, nil
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(tb testing.TB, pid int, field string) int64 {
	tb.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// Kinds of cases: how the Accept header changes the answer.
const (
	// httpLevel: refused before GraphQL, with the same status whatever the
	// Accept; sent with each Accept.
	httpLevel = iota
	// requestError: a GraphQL request error: 200 with application/json, 400
	// without a "data" entry with application/graphql-response+json.
	requestError
	// execution: sent with application/json only, answered 200.
	execution
)

// abuseCase is one hostile request and the answer it must get.
type abuseCase struct {
	name   string
	kind   int
	req    func(e *abuseEnv) *http.Request
	status []int  // any of (httpLevel; none: any status)
	code   string // errors[0].extensions.code; "" skips the check
	fast   bool   // answered within abuseFast
	mem    bool   // the server's peak memory grows by less than abuseMaxGrowth; sent once
	small  bool   // sent to the server with UPLOAD_MAX_BYTES abuseUploadMax
	// anyStatus: an execution case answered with any status.
	anyStatus bool
	check     func(t *testing.T, r *abuseResp)
	// accept and wantStatus are set by expand.
	accept     string
	wantStatus []int
	noData     bool
}

// expand gives each case its Accept variants and the status each must get.
func expand(cases []abuseCase) []abuseCase {
	var out []abuseCase
	for _, c := range cases {
		switch {
		case c.kind == execution || c.mem:
			c.accept, c.wantStatus = acceptJSON, c.status
			if c.kind == execution && !c.anyStatus {
				c.wantStatus = []int{200}
			}
			out = append(out, c)
		case c.kind == httpLevel:
			j, g := c, c
			j.name, j.accept, j.wantStatus = c.name+"/json", acceptJSON, c.status
			g.name, g.accept, g.wantStatus = c.name+"/graphql-response", acceptGQL, c.status
			out = append(out, j, g)
		default:
			j, g := c, c
			j.name, j.accept, j.wantStatus = c.name+"/json", acceptJSON, []int{200}
			g.name, g.accept, g.wantStatus, g.noData = c.name+"/graphql-response", acceptGQL, []int{400}, true
			out = append(out, j, g)
		}
	}
	return out
}

// abuseCases are the hostile requests, the memory attacks first and the
// costly documents last (a server that does not refuse them goes on burning
// CPU after the client gives up).
func abuseCases() []abuseCase {
	badInput := func(name, body string) abuseCase {
		return abuseCase{name: name, kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.jsonBody(body) }}
	}
	signIn := `{"query":"mutation($i: SignInInput!) { signIn(input: $i) { token } }","variables":{"i":{"email":"canary@example.com","password":"CANARY-PASSWORD-8d1f"}}}`
	settings := `{"query":"mutation($i: UpdateModelSettingsInput!) { updateModelSettings(input: $i) { provider } }","variables":{"i":{"provider":"OPENAI","model":"gpt-5-mini","apiKey":"CANARY-KEY-33aa"}}`
	deep := `{"query":"{__typename}","variables":{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}}"
	otherHash := sha256.Sum256([]byte("{ viewer { id } }"))
	nul := func(name, query string, vars func(e *abuseEnv) map[string]any) abuseCase {
		return abuseCase{name: name, kind: execution, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.gql(e.token, query, vars(e), nil) }}
	}
	notMissingPrefix := func(t *testing.T, r *abuseResp) {
		if len(r.gql.Errors) > 0 && strings.Contains(r.gql.Errors[0].Message, `missing "variables." prefix`) {
			t.Errorf("message %q", r.gql.Errors[0].Message)
		}
	}
	notInternal := func(t *testing.T, r *abuseResp) {
		if slices.ContainsFunc(r.gql.Errors, func(e gqlError) bool { return e.Extensions["code"] == "INTERNAL" }) {
			t.Errorf("a client's mistake answered INTERNAL: %s", r)
		}
	}
	// query is a request of q without a token, authed one with the user's.
	query := func(q string) func(e *abuseEnv) *http.Request {
		return func(e *abuseEnv) *http.Request { return e.gql("", q, nil, nil) }
	}
	authed := func(q string) func(e *abuseEnv) *http.Request {
		return func(e *abuseEnv) *http.Request { return e.gql(e.token, q, nil, nil) }
	}

	return []abuseCase{
		// Memory attacks.
		{name: "chunked 30 MB JSON body", mem: true, status: []int{413}, code: "LIMIT_EXCEEDED",
			req: func(e *abuseEnv) *http.Request { return e.post(acceptJSON, "", bigVariable(30e6), true) }},
		{name: "10 MB JSON query", mem: true, status: []int{413}, code: "LIMIT_EXCEEDED",
			req: func(e *abuseEnv) *http.Request { return e.post(acceptJSON, "", bigQuery(10e6), false) }},
		{name: "unauthenticated chunked 40 MB upload", mem: true, status: []int{401}, code: "UNAUTHENTICATED",
			req: func(e *abuseEnv) *http.Request { return e.upload("", `{"0":["variables.f"]}`, 0, 40e6, true) }},

		// HTTP-level refusals.
		{name: "chunked upload over UPLOAD_MAX_BYTES", kind: httpLevel, small: true, status: []int{413}, code: "LIMIT_EXCEEDED",
			req: func(e *abuseEnv) *http.Request {
				return e.upload(e.token, `{"0":["variables.f"]}`, 0, 3*abuseUploadMax, true)
			}},
		{name: "declared upload over UPLOAD_MAX_BYTES", kind: httpLevel, small: true, status: []int{413}, code: "LIMIT_EXCEEDED",
			req: func(e *abuseEnv) *http.Request {
				return e.upload(e.token, `{"0":["variables.f"]}`, 0, 3*abuseUploadMax, false)
			}},
		{name: "1000 file parts", kind: httpLevel, status: []int{400}, code: "LIMIT_EXCEEDED",
			req: func(e *abuseEnv) *http.Request {
				fmap, vars := map[string][]string{}, make([]any, 1000)
				for i := range 1000 {
					fmap[strconv.Itoa(i)] = []string{fmt.Sprintf("variables.f.%d", i)}
				}
				m, _ := json.Marshal(fmap)
				body, ct := multipartBody([][2]string{operations(`query($f: [Upload!]!) { __typename }`, map[string]any{"f": vars}), {"map", string(m)}}, 1000, 0)
				return e.post(ct, e.token, body, false)
			}},
		{name: "multipart without operations", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				body, ct := multipartBody([][2]string{{"map", `{"0":["variables.f"]}`}}, 1, 0)
				return e.post(ct, e.token, body, false)
			}},
		{name: "multipart with an invalid map", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.upload(e.token, `{"0":["variables.f"]`, 1, 0, false) }},
		{name: "multipart map to variables.nope.deeper", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT", check: notMissingPrefix,
			req: func(e *abuseEnv) *http.Request {
				return e.upload(e.token, `{"0":["variables.nope.deeper"]}`, 1, 0, false)
			}},
		badInput("empty body", ""),
		badInput("invalid JSON {", "{"),
		badInput(`invalid JSON {"query":`, `{"query":`),
		badInput("invalid JSON nul", "nul"),
		badInput("JSON with trailing garbage", `{"query":"{__typename}"}garbage`),
		badInput("JSON string", `"x"`),
		badInput("JSON number", "1"),
		badInput("batch (JSON array)", `[{"query":"{__typename}"},{"query":"{__typename}"}]`),
		badInput("query a number", `{"query":1}`),
		badInput("operationName a number", `{"query":"{__typename}","operationName":1}`),
		badInput("variables a string", `{"query":"{__typename}","variables":"x"}`),
		badInput("variables an array", `{"query":"{__typename}","variables":[]}`),
		badInput("extensions a string", `{"query":"{__typename}","extensions":"x"}`),
		badInput("JSON nested 100000 deep", deep),
		{name: "text/plain", kind: httpLevel, status: []int{415}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				return e.post("text/plain", "", bodyOf(`{"query":"{__typename}"}`), false)
			}},
		{name: "form post", kind: httpLevel, status: []int{415}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				return e.post("application/x-www-form-urlencoded", "", bodyOf("query=%7B__typename%7D"), false)
			}},
		{name: "GET mutation", kind: httpLevel, status: []int{405}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				req, _ := http.NewRequest("GET", e.url+"/graphql?query="+url.QueryEscape("mutation { createGuestSession { token } }"), nil)
				return req
			},
			check: func(t *testing.T, r *abuseResp) {
				if !strings.Contains(r.header.Get("Allow"), "POST") {
					t.Errorf("Allow: %q, want POST", r.header.Get("Allow"))
				}
			}},
		{name: "1 MB GET URL", kind: httpLevel, status: []int{414, 431},
			req: func(e *abuseEnv) *http.Request { return e.hugeURL(1e6) },
			check: func(t *testing.T, r *abuseResp) {
				if r.keys != nil && r.code() != "LIMIT_EXCEEDED" {
					t.Errorf("code %q, want LIMIT_EXCEEDED", r.code())
				}
			}},
		{name: "subscription over POST", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: query(`subscription { runEvents(runID: "x") { seq } }`),
			check: func(t *testing.T, r *abuseResp) {
				if len(r.gql.Errors) == 0 || !strings.Contains(r.gql.Errors[0].Message, "WebSocket") && !strings.Contains(r.gql.Errors[0].Message, "SSE") {
					t.Errorf("the message does not say to use a WebSocket or SSE")
				}
			}},

		// GraphQL request errors.
		{name: "parse error", kind: requestError, code: "BAD_USER_INPUT", fast: true, req: query("{ __typename")},
		{name: "unknown field", kind: requestError, code: "BAD_USER_INPUT", fast: true, req: query("{ nope }")},
		{name: "variable of the wrong type", kind: requestError, code: "BAD_USER_INPUT", fast: true,
			req: func(e *abuseEnv) *http.Request {
				return e.gql("", "query($n: Int) { chats(first: $n) { edges { node { id } } } }", map[string]any{"n": "many"}, nil)
			}},
		{name: "APQ hash mismatch", kind: requestError, code: "BAD_USER_INPUT", fast: true,
			req: func(e *abuseEnv) *http.Request {
				return e.gql("", "{ __typename }", nil, map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(otherHash[:])}})
			}},

		// Execution guards.
		{name: "first 1000000", kind: execution, code: "BAD_USER_INPUT", req: authed("{ chats(first: 1000000) { edges { node { id } } } }")},
		{name: "first 2147483648", kind: execution, code: "BAD_USER_INPUT", req: authed("{ chats(first: 2147483648) { edges { node { id } } } }")},
		{name: "first -1", kind: execution, code: "BAD_USER_INPUT", req: authed("{ chats(first: -1) { edges { node { id } } } }")},
		{name: "first and last", kind: execution, code: "BAD_USER_INPUT", req: authed("{ chats(first: 2, last: 2) { edges { node { id } } } }")},
		{name: "malformed after cursor", kind: execution, code: "BAD_USER_INPUT", req: authed(`{ chats(first: 2, after: "!!!") { edges { node { id } } } }`)},
		{name: "4 aliases of nested connections", kind: execution, code: "LIMIT_EXCEEDED", fast: true, req: authed(connections4)},
		{name: "nodes with 101 ids", kind: execution, code: "LIMIT_EXCEEDED", fast: true,
			req: func(e *abuseEnv) *http.Request {
				ids := make([]string, 101)
				for i := range ids {
					ids[i] = e.chatID
				}
				return e.gql(e.token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": ids}, nil)
			}},
		// 10,000 values are refused before the body is decoded.
		{name: "nodes with 10000 ids", kind: httpLevel, status: []int{400}, code: "LIMIT_EXCEEDED", fast: true,
			req: func(e *abuseEnv) *http.Request {
				ids := make([]string, 10000)
				for i := range ids {
					ids[i] = e.chatID
				}
				return e.gql(e.token, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": ids}, nil)
			}},
		{name: "1000 aliases of cleanCode", kind: execution, code: "LIMIT_EXCEEDED", fast: true, req: query(cleanCode1000)},
		{name: "1000 aliases of publicTicker", kind: execution, code: "LIMIT_EXCEEDED", fast: true, req: query(ticker1000)},

		// Secrets sent in malformed requests (the log is checked at the end).
		{name: "secret/batched signIn", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.jsonBody("[" + signIn + "]") }},
		{name: "secret/truncated signIn", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.jsonBody(signIn[:strings.Index(signIn, "8d1f")+4]) }},
		{name: "secret/malformed updateModelSettings", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request { return e.post(acceptJSON, e.token, bodyOf(settings), false) }},
		{name: "secret/400 KB malformed body", kind: httpLevel, status: []int{400}, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				return e.post(acceptJSON, "", abuseBody{prefix: `{"query":"{__typename}","variables":{"k":"CANARY-KEY-33aa`, pat: "x", n: 400e3}, false)
			}},
		{name: "secret/updateModelSettings with a wrong-typed variable", kind: requestError, code: "BAD_USER_INPUT",
			req: func(e *abuseEnv) *http.Request {
				return e.post(acceptJSON, e.token, bodyOf(strings.Replace(settings, `"apiKey"`, `"maxTokens":"many","apiKey"`, 1)+"}"), false)
			}},
		// Valid requests carrying secrets: any status, but not INTERNAL.
		{name: "secret/signIn with a wrong password", kind: execution, check: notInternal,
			req: func(e *abuseEnv) *http.Request { return e.jsonBody(signIn) }},
		{name: "secret/invalid token", kind: execution, anyStatus: true, check: notInternal,
			req: func(e *abuseEnv) *http.Request { return e.gql("CANARY-TOKEN-5e0b", "{ viewer { id } }", nil, nil) }},

		// NUL bytes, which PostgreSQL refuses to store.
		nul("NUL in createChat title", `mutation($t: String) { createChat(input: {title: $t}) { id } }`,
			func(*abuseEnv) map[string]any { return map[string]any{"t": "a\x00b"} }),
		nul("NUL in updateChat title", `mutation($id: ID!, $t: String) { updateChat(id: $id, input: {title: $t}) { id } }`,
			func(e *abuseEnv) map[string]any { return map[string]any{"id": e.chatID, "t": "a\x00b"} }),
		nul("NUL in sendMessage content", sendMutation,
			func(e *abuseEnv) map[string]any { return map[string]any{"chat": e.chatID, "content": "a\x00b"} }),

		// Costly documents, last. Those over 64 KiB (32 bytes a token of
		// QUERY_MAX_TOKENS) are refused before the body is decoded: 400.
		{name: "10000 directives", kind: httpLevel, status: []int{400}, code: "LIMIT_EXCEEDED", fast: true, req: query(directives10k),
			check: func(t *testing.T, r *abuseResp) {
				if len(r.body) >= 64<<10 || len(r.gql.Errors) > 10 {
					t.Errorf("%d bytes, %d errors: want under 64 KiB and at most 10 errors", len(r.body), len(r.gql.Errors))
				}
			}},
		{name: "fragment bomb k=24", kind: requestError, code: "LIMIT_EXCEEDED", fast: true, req: query(fragments24)},
		{name: "10000 __typename", kind: httpLevel, status: []int{400}, code: "LIMIT_EXCEEDED", fast: true, req: query(typename10k)},
		{name: "10000 models { name }", kind: httpLevel, status: []int{400}, code: "LIMIT_EXCEEDED", fast: true, req: query(models10k)},
		// Under the byte cap, the document's own limits answer.
		{name: "2500 aliases: over QUERY_MAX_TOKENS", kind: requestError, code: "LIMIT_EXCEEDED", fast: true, req: query(aliases(2500, "__typename"))},
		{name: "501 fields: over QUERY_MAX_FIELDS", kind: requestError, code: "LIMIT_EXCEEDED", fast: true, req: query(aliases(501, "__typename"))},
		{name: "21 repeats of __typename", kind: requestError, code: "LIMIT_EXCEEDED", fast: true, req: query("{" + strings.Repeat(" __typename", 21) + " }")},
		{name: "51 directives", kind: requestError, code: "LIMIT_EXCEEDED", fast: true, req: query("{ __typename" + strings.Repeat(" @skip(if: false)", 51) + " }")},
	}
}

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

// stopServer ends a server before its test does (SIGTERM, then SIGKILL
// after 15s).
func stopServer(s *server) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// mustRoundTrip sends req with an Accept header.
func mustRoundTrip(t *testing.T, req *http.Request, accept string) *abuseResp {
	t.Helper()
	req.Header.Set("Accept", accept)
	r, err := roundTrip(req, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
