package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The requests of the abuse suite: how each is built and sent.

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
