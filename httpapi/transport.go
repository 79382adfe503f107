package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/autoanalyst/autoanalyst/errcode"
)

// Media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
	maxGETQueryBytes     = 16 << 10
)

// httpTransport serves GraphQL over HTTP (POST with a JSON body, and GET
// for queries) as the GraphQL-over-HTTP specification asks. It reads at most
// maxBody bytes of a body, whether or not its length is declared, and
// answers every request it cannot run with a GraphQL error carrying a code,
// whose message never quotes the request. It is safe for concurrent use.
type httpTransport struct {
	maxBody  int64
	maxQuery int // bytes of a document
	// buffers are the buffers bodies are read into, reused so that reading
	// a large body allocates (and clears, and collects) nothing.
	buffers *sync.Pool
}

func newHTTPTransport(maxBody int64, maxQuery int) httpTransport {
	return httpTransport{maxBody: maxBody, maxQuery: maxQuery, buffers: &sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

var _ graphql.Transport = httpTransport{}

// Supports takes every request the WebSocket, SSE, multipart and OPTIONS
// transports do not, so that none ends in gqlgen's uncoded refusal.
func (httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method == http.MethodOptions {
		return false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt != "multipart/form-data"
}

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := responseMedia(r.Header.Values("Accept"))
	if !ok {
		writeError(w, http.StatusNotAcceptable, errcode.BadUserInput,
			"the Accept header allows neither application/graphql-response+json nor application/json")
		return
	}
	start := graphql.Now()
	var params *graphql.RawParams
	var status int
	var err error
	switch r.Method {
	case http.MethodPost:
		params, status, err = t.readPOST(w, r)
	case http.MethodGet:
		params, status, err = readGET(r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, errcode.BadUserInput,
			fmt.Sprintf("method %s is not allowed: send queries with GET or POST, mutations with POST", r.Method))
		return
	}
	if err != nil {
		code := errcode.BadUserInput
		if status == http.StatusRequestEntityTooLarge || status == http.StatusRequestURITooLong || errors.Is(err, errTooManyValues) || errors.Is(err, errQueryTooLong) {
			code = errcode.LimitExceeded
		}
		writeResponse(w, media, status, requestError(code, err.Error()))
		return
	}
	if params.Query == "" && params.Extensions["persistedQuery"] == nil {
		writeResponse(w, media, http.StatusBadRequest, requestError(errcode.BadUserInput,
			`the request has no query: send {"query": "..."} (or a persisted query's hash in extensions)`))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, media)
}

// execute runs the operation of params and writes its response; it refuses
// mutations over GET and subscriptions outside WebSocket and SSE.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, media string) {
	ctx := r.Context()
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeResponse(w, media, status, &graphql.Response{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	switch op := rc.Operation.Operation; {
	case op == ast.Mutation && r.Method == http.MethodGet:
		w.Header().Set("Allow", "POST")
		writeResponse(w, media, http.StatusMethodNotAllowed, requestError(errcode.BadUserInput,
			"mutations are not allowed over GET: send them with POST"))
		return
	case op == ast.Subscription:
		writeResponse(w, media, http.StatusBadRequest, requestError(errcode.BadUserInput,
			"subscriptions need a WebSocket (graphql-transport-ws or graphql-ws) or SSE (POST with Accept: text/event-stream)"))
		return
	}
	multipart := acceptsMultipart(r)
	if !multipart {
		rc.Doc, rc.Operation = withoutDefer(rc.Doc, rc.Operation)
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	first := responses(ctx)
	if multipart && first.HasNext != nil && *first.HasNext {
		writeIncremental(w, first, responses, ctx)
		return
	}
	writeResponse(w, media, http.StatusOK, first)
}

// readPOST reads a JSON body of at most t.maxBody bytes into params.
func (t httpTransport) readPOST(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, int, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != mediaJSON && mt != mediaGraphQLResponse) {
		return nil, http.StatusUnsupportedMediaType,
			errors.New("the body must be JSON: send Content-Type: application/json (uploads: multipart/form-data)")
	}
	if r.ContentLength > t.maxBody {
		return nil, http.StatusRequestEntityTooLarge, bodyTooLarge(t.maxBody)
	}
	buf := t.buffers.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		t.buffers.Put(buf)
	}()
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, t.maxBody))
	body := buf.Bytes() // decodeParams copies what it keeps
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, bodyTooLarge(t.maxBody)
		}
		return nil, http.StatusBadRequest, errors.New("the request body could not be read")
	}
	params, err := decodeParams(body, t.maxQuery)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	return params, 0, nil
}

func bodyTooLarge(max int64) error {
	return fmt.Errorf("the request body is over the limit of %d bytes (MAX_REQUEST_BYTES; uploads: multipart/form-data)", max)
}

// readGET reads the parameters of a GET request's URL.
func readGET(r *http.Request) (*graphql.RawParams, int, error) {
	if len(r.URL.RawQuery) > maxGETQueryBytes {
		return nil, http.StatusRequestURITooLong,
			fmt.Errorf("the URL's query is over the limit of %d bytes: send the request with POST", maxGETQueryBytes)
	}
	q := r.URL.Query()
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	if scanBody([]byte(q.Get("variables")), maxJSONValues).values > maxJSONValues {
		return nil, http.StatusBadRequest, errTooManyValues
	}
	for _, f := range []struct {
		name string
		into *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		m, err := decodeObject(f.name, []byte(s))
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		*f.into = m
	}
	return p, 0, nil
}

// maxJSONValues bounds the values (array elements and object members) of a
// request body: decoding and coercing many small values costs far more
// than their bytes, so they are counted, cheaply, before decoding.
const maxJSONValues = 2_000

// Refusals of a body's shape, before it is decoded.
var (
	errTooManyValues = fmt.Errorf("the body holds more than %d JSON values (list elements and object members)", maxJSONValues)
	errQueryTooLong  = errors.New("the query is over the limit")
)

// bodyShape is what a cheap scan of a JSON body finds before it is decoded:
// decoding costs far more per byte, so what is too large is refused first.
type bodyShape struct {
	values   int // separators outside strings (commas, colons): about the values
	queryLen int // bytes of the top-level "query" string, escapes included
}

// scanBody scans b once, without allocating (but for an escaped key). It
// stops counting values past maxValues.
func scanBody(b []byte, maxValues int) bodyShape {
	var sh bodyShape
	depth, inString, escaped, keyEscaped := 0, false, false, false
	expectKey, valueOfQuery := false, false
	strStart, key := 0, ""
	for i, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped, keyEscaped = true, true
			case '"':
				inString = false
				if depth != 1 {
					break
				}
				if expectKey {
					key = string(b[strStart:i])
					if keyEscaped {
						json.Unmarshal(b[strStart-1:i+1], &key)
					}
				} else if valueOfQuery {
					sh.queryLen = i - strStart
				}
			}
		case c == '"':
			inString, keyEscaped, strStart = true, false, i+1
		case c == '{' || c == '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case c == '}' || c == ']':
			depth--
		case c == ':' || c == ',':
			if sh.values < maxValues+1 {
				sh.values++
			}
			if depth == 1 {
				valueOfQuery = c == ':' && key == "query"
				expectKey = c == ','
			}
		}
	}
	return sh
}

// wireParams is a request body as decoded, each parameter of any type
// until checked.
type wireParams struct {
	Query         any `json:"query"`
	OperationName any `json:"operationName"`
	Variables     any `json:"variables"`
	Extensions    any `json:"extensions"`
}

// decodeParams decodes a request body: one JSON object whose query and
// operationName are strings and whose variables and extensions are objects
// (each may be null or absent). Its errors name what is wrong, never the
// body's content.
func decodeParams(body []byte, maxQuery int) (*graphql.RawParams, error) {
	sh := scanBody(body, maxJSONValues)
	if sh.values > maxJSONValues {
		return nil, errTooManyValues
	}
	if sh.queryLen > maxQuery {
		return nil, fmt.Errorf("%w of %d bytes: send large values as variables", errQueryTooLong, maxQuery)
	}
	var w *wireParams
	if err := strictDecode(body, &w); err != nil {
		trimmed := bytes.TrimSpace(body)
		var typeErr *json.UnmarshalTypeError
		switch {
		case len(trimmed) > 0 && trimmed[0] == '[':
			return nil, errors.New("the body is a JSON array: batched requests are not supported, send one operation per request")
		case errors.As(err, &typeErr):
			return nil, errors.New(`the body must be a JSON object ({"query": "..."})`)
		}
		return nil, fmt.Errorf("the body is not valid JSON: %s", jsonProblem(err))
	}
	if w == nil {
		return nil, errors.New(`the body must be a JSON object ({"query": "..."})`)
	}
	p := &graphql.RawParams{}
	var ok bool
	if p.Query, ok = optional[string](w.Query); !ok {
		return nil, errors.New("query must be a string")
	}
	if p.OperationName, ok = optional[string](w.OperationName); !ok {
		return nil, errors.New("operationName must be a string")
	}
	if p.Variables, ok = optional[map[string]any](w.Variables); !ok {
		return nil, errors.New("variables must be a JSON object")
	}
	if p.Extensions, ok = optional[map[string]any](w.Extensions); !ok {
		return nil, errors.New("extensions must be a JSON object")
	}
	return p, nil
}

// optional returns v as a T; a nil v (absent or null) is T's zero value.
func optional[T any](v any) (T, bool) {
	var zero T
	if v == nil {
		return zero, true
	}
	t, ok := v.(T)
	return t, ok
}

// decodeObject decodes the JSON object of the named parameter, numbers kept
// as json.Number (as gqlgen's coercion expects).
func decodeObject(name string, raw []byte) (map[string]any, error) {
	var m map[string]any
	if err := strictDecode(raw, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%s must be a JSON object", name)
		}
		return nil, fmt.Errorf("%s is not valid JSON: %s", name, jsonProblem(err))
	}
	if m == nil && !isNull(raw) {
		return nil, fmt.Errorf("%s must be a JSON object", name)
	}
	return m, nil
}

// strictDecode decodes exactly one JSON value from b into v.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("there is more after the JSON value")
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	case errors.As(err, &syntax):
		if strings.Contains(syntax.Error(), "exceeded max depth") {
			return "it is nested too deeply"
		}
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("a %s where %s was expected", typeErr.Value, typeErr.Type)
	case strings.Contains(err.Error(), "more after"):
		return "there is more after the JSON value"
	}
	return "it cannot be decoded"
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// responseMedia picks the response's media type from the Accept headers:
// application/graphql-response+json when the client accepts it, else
// application/json (also when Accept is absent, or allows anything).
func responseMedia(accept []string) (string, bool) {
	if len(accept) == 0 {
		return mediaJSON, true
	}
	json, any := false, false
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["q"] == "0" {
				continue
			}
			switch mt {
			case mediaGraphQLResponse:
				return mediaGraphQLResponse, true
			case mediaJSON:
				json = true
			case "*/*", "application/*", "multipart/mixed":
				any = true
			}
		}
	}
	return mediaJSON, json || any
}

// requestError is the response to a request that did not run: errors only.
func requestError(code errcode.Code, msg string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": string(code)}}}}
}

// wireResponse is a response as written: without a data entry when nothing
// ran (graphql-response+json forbids one on request errors).
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// writeResponse writes resp with the status and media type.
func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response) {
	out := wireResponse{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions}
	if out.Data == nil && len(out.Errors) == 0 {
		out.Data = json.RawMessage("null")
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(requestError(errcode.Internal, "internal error: the response could not be encoded"))
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// sseTransport is gqlgen's SSE transport (POST with Accept:
// text/event-stream) behind the same body cap and JSON checks as
// httpTransport: gqlgen's would read any body whole and log it when it is
// not JSON. It is safe for concurrent use.
type sseTransport struct {
	transport.SSE
	http httpTransport
}

// Do checks the body, then streams the operation's results.
func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	params, status, err := t.http.readPOST(w, r)
	if err != nil {
		code := errcode.BadUserInput
		if status == http.StatusRequestEntityTooLarge {
			code = errcode.LimitExceeded
		}
		writeResponse(w, mediaJSON, status, requestError(code, err.Error()))
		return
	}
	body, err := json.Marshal(params)
	if err != nil {
		writeResponse(w, mediaJSON, http.StatusBadRequest, requestError(errcode.BadUserInput, "the body cannot be read"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	t.SSE.Do(w, r, exec)
}
