// Package llmtest provides local HTTP servers that stand in for a model
// provider in tests: NewOpenAIServer speaks OpenAI's chat-completions
// protocol (for llm.NewOpenAI or any OpenAI-compatible client) and
// NewAnthropicServer Anthropic's Messages API (for llm.NewAnthropic). Both
// record the requests and take their replies from the same handlers.
//
// The OpenAI server answers POST /chat/completions and /v1/chat/completions,
// with a JSON body (usage included) or, when the request has "stream": true,
// with server-sent events: a role chunk, one chunk per word of the reply, a
// finish chunk, a usage chunk when stream_options.include_usage is true, and
// "data: [DONE]" (NewAnthropicServer says what the Anthropic one sends). A
// handler decides each reply; Script (a queue) and Router (rules on the
// messages) are ready-made handlers. Token counts are words, so tests can
// predict them.
//
//	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(
//		llmtest.RateLimited("1"),
//		llmtest.Text("hello world"),
//	).Handle)
//	p, _ := llm.NewOpenAI(llm.OpenAIConfig{APIKey: "test", BaseURL: srv.BaseURL()})
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// Message is one message of a recorded request.
type Message struct {
	Role    string
	Content string
}

// ChatRequest is what the server received in one request.
type ChatRequest struct {
	// Path is the request path ("/v1/chat/completions").
	Path          string
	Model         string
	Messages      []Message
	Stream        bool
	IncludeUsage  bool
	Temperature   *float64 // nil when the field was omitted
	MaxTokens     int      // max_completion_tokens, else max_tokens
	Authorization string   // the Authorization header as sent
	// Body is the raw JSON body.
	Body json.RawMessage
}

// LastMessage is the content of the last message (empty without messages).
func (r ChatRequest) LastMessage() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// LastUserMessage is the content of the last message with role "user".
func (r ChatRequest) LastUserMessage() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// System is the content of the system messages, joined by newlines.
func (r ChatRequest) System() string {
	var parts []string
	for _, m := range r.Messages {
		if m.Role == "system" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n")
}

// Text is all message contents joined by newlines.
func (r ChatRequest) Text() string {
	parts := make([]string, len(r.Messages))
	for i, m := range r.Messages {
		parts[i] = m.Content
	}
	return strings.Join(parts, "\n")
}

// APIKey is the bearer token of the Authorization header.
func (r ChatRequest) APIKey() string {
	return strings.TrimPrefix(r.Authorization, "Bearer ")
}

// Reply is the server's answer to one request.
type Reply struct {
	// Content is the assistant's answer.
	Content string
	// Chunks, when set, are the streamed content deltas (Content is then
	// ignored for streaming); otherwise Content is streamed word by word.
	Chunks []string
	// Status, when not 0 or 200, makes the reply an error with this HTTP
	// status and an OpenAI-style error body carrying ErrorMessage.
	Status       int
	ErrorMessage string
	// RetryAfter, when set, is sent as the Retry-After header ("1");
	// RetryAfterMS as retry-after-ms ("20").
	RetryAfter   string
	RetryAfterMS string
	// PromptTokens and CompletionTokens override the usage reported; 0
	// means words of the request's messages and of the content.
	PromptTokens, CompletionTokens int
	// OmitUsage leaves usage out (like a server that ignores
	// stream_options).
	OmitUsage bool
	// Delay is waited before the response starts; ChunkDelay before each
	// streamed chunk after the first. Both end early when the client goes
	// away.
	Delay, ChunkDelay time.Duration
	// FinishReason defaults to "stop".
	FinishReason string
}

// text is the whole content of a reply.
func (r Reply) text() string {
	if r.Chunks != nil {
		return strings.Join(r.Chunks, "")
	}
	return r.Content
}

// tokens are the usage a reply reports: its overrides, else words.
func (r Reply) tokens(req ChatRequest, content string) (prompt, completion int) {
	prompt, completion = r.PromptTokens, r.CompletionTokens
	if prompt == 0 {
		for _, m := range req.Messages {
			prompt += len(strings.Fields(m.Content))
		}
	}
	if completion == 0 {
		completion = len(strings.Fields(content))
	}
	return prompt, completion
}

// Text is a successful reply with content.
func Text(content string) Reply { return Reply{Content: content} }

// Error is an error reply with an HTTP status and message.
func Error(status int, message string) Reply {
	return Reply{Status: status, ErrorMessage: message}
}

// RateLimited is a 429 reply with a Retry-After header (in seconds; empty
// for none).
func RateLimited(retryAfter string) Reply {
	return Reply{Status: http.StatusTooManyRequests, ErrorMessage: "Rate limit reached", RetryAfter: retryAfter}
}

// ServerError is a 500 reply.
func ServerError() Reply {
	return Reply{Status: http.StatusInternalServerError, ErrorMessage: "The server had an error while processing your request"}
}

// Server is a running fake chat-completions server. It embeds the
// *httptest.Server, which is closed when the test ends.
type Server struct {
	*httptest.Server

	handler func(ChatRequest) Reply

	mu       sync.Mutex
	requests []ChatRequest
	calls    []Call
}

// Call is when the server answered one request: from its arrival to the end
// of the response (the last streamed event written).
type Call struct {
	Start, End time.Time
}

// NewOpenAIServer starts a server whose replies come from handler (called
// once per request, possibly concurrently) and closes it when t ends.
func NewOpenAIServer(t testing.TB, handler func(req ChatRequest) Reply) *Server {
	t.Helper()
	return newServer(t, handler, openAI{}, "/chat/completions")
}

// newServer starts a server speaking p at path and at "/v1" + path, and
// closes it when t ends.
func newServer(t testing.TB, handler func(req ChatRequest) Reply, p protocol, path string) *Server {
	t.Helper()
	s := &Server{handler: handler}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+path, s.serve(p))
	mux.HandleFunc("POST /v1"+path, s.serve(p))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// BaseURL is the API root to configure a client with (the server's URL +
// "/v1").
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Server) Requests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChatRequest, len(s.requests))
	copy(out, s.requests)
	return out
}

// Count is the number of requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// LastRequest is the most recent request (zero value when none).
func (s *Server) LastRequest() ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return ChatRequest{}
	}
	return s.requests[len(s.requests)-1]
}

// Calls returns a copy of the requests answered so far, as when each began
// and ended, in the order they ended; a model's time in a test is theirs.
// It is safe for concurrent use.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Reset forgets the recorded requests and calls.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.calls = nil
}

// protocol is what differs between the wire protocols the server speaks:
// how a request reads, how an error, a whole answer and a streamed one are
// written.
type protocol interface {
	// parse reads a request's body (r for its headers); an error is
	// answered with 400 and the error's text.
	parse(r *http.Request, body []byte) (ChatRequest, error)
	// writeError writes an error response in the protocol's body.
	writeError(w http.ResponseWriter, status int, msg string)
	// message is the JSON body of an answer that is not streamed.
	message(a answer) any
	// stream writes a streamed answer's events through es.
	stream(es *eventStream, a answer)
}

// answer is a reply about to be written.
type answer struct {
	req   ChatRequest
	reply Reply
	// content is the whole text; in and out the tokens reported.
	content string
	in, out int
}

// chunks are the streamed content deltas: the reply's own, else a word each.
func (a answer) chunks() []string {
	if a.reply.Chunks != nil {
		return a.reply.Chunks
	}
	return splitWords(a.content)
}

// finishReason is the reply's FinishReason, else the protocol's default.
func (a answer) finishReason(def string) string {
	if a.reply.FinishReason == "" {
		return def
	}
	return a.reply.FinishReason
}

// serve is the handler of one endpoint speaking p: it reads and records the
// request, asks the handler for the reply and writes it, whole or streamed.
func (s *Server) serve(p protocol) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		defer func() {
			s.mu.Lock()
			s.calls = append(s.calls, Call{Start: start, End: time.Now()})
			s.mu.Unlock()
		}()
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			p.writeError(w, http.StatusBadRequest, "cannot read body")
			return
		}
		req, err := p.parse(r, body)
		if err != nil {
			p.writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		req.Path = r.URL.Path
		req.Body = json.RawMessage(body)
		reply, ok := s.reply(w, r, req, p.writeError)
		if !ok {
			return
		}
		a := answer{req: req, reply: reply, content: reply.text()}
		a.in, a.out = reply.tokens(req, a.content)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(p.message(a))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		es := &eventStream{w: w, r: r}
		es.flusher, _ = w.(http.Flusher)
		p.stream(es, a)
	}
}

// eventStream writes server-sent events to one response.
type eventStream struct {
	w       http.ResponseWriter
	r       *http.Request
	flusher http.Flusher
}

// send writes one event (without an "event:" line when event is empty)
// whose data is data as JSON, and flushes it. It reports false when the
// client went away.
func (es *eventStream) send(event string, data any) bool {
	b, _ := json.Marshal(data)
	line := "data: %s\n\n"
	args := []any{b}
	if event != "" {
		line = "event: %s\n" + line
		args = []any{event, b}
	}
	if _, err := fmt.Fprintf(es.w, line, args...); err != nil {
		return false
	}
	es.flush()
	return es.r.Context().Err() == nil
}

func (es *eventStream) flush() {
	if es.flusher != nil {
		es.flusher.Flush()
	}
}

// each calls send for every chunk, waiting delay between two. It reports
// false when the client went away or send did.
func (es *eventStream) each(chunks []string, delay time.Duration, send func(chunk string) bool) bool {
	for i, c := range chunks {
		if i > 0 && !wait(es.r, delay) {
			return false
		}
		if !send(c) {
			return false
		}
	}
	return true
}

// reply records req, asks the handler for its reply and waits its Delay,
// and sets the retry headers. It reports false when the response is done:
// the client went away, or the reply was an error, written with writeErr
// (the protocol's error body).
func (s *Server) reply(w http.ResponseWriter, r *http.Request, req ChatRequest, writeErr func(http.ResponseWriter, int, string)) (Reply, bool) {
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	reply := s.handler(req)
	if !wait(r, reply.Delay) {
		return reply, false
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.RetryAfterMS != "" {
		w.Header().Set("retry-after-ms", reply.RetryAfterMS)
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		msg := reply.ErrorMessage
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		writeErr(w, reply.Status, msg)
		return reply, false
	}
	return reply, true
}

// wait sleeps d, returning false if the client went away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

// contentText reads a message content that is a string or an array of
// parts ({"type": "text", "text": ...}).
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return string(raw)
}

// splitWords splits s into one chunk per word with its following
// whitespace; the chunks concatenate back to s.
func splitWords(s string) []string {
	var chunks []string
	start := 0
	inSpace := true
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && inSpace && i > start && strings.TrimSpace(s[start:i]) != "" {
			chunks = append(chunks, s[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(s) {
		chunks = append(chunks, s[start:])
	}
	return chunks
}
