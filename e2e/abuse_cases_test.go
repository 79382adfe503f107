package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

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
