package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// NewAnthropicServer starts a server that speaks Anthropic's Messages API
// (POST /v1/messages): a JSON message, or, when the request has
// "stream": true, server-sent events (message_start with the input tokens,
// content_block_start, one content_block_delta per word, content_block_stop,
// message_delta with the stop reason and output tokens, message_stop).
// Errors use Anthropic's body ({"type": "error", "error": {...}}). Replies
// come from handler as for NewOpenAIServer; a request's system prompt is
// recorded as a first message of role "system", and its x-api-key header as
// Authorization ("Bearer <key>"), so ChatRequest's helpers work unchanged.
// The server is closed when t ends.
func NewAnthropicServer(t testing.TB, handler func(req ChatRequest) Reply) *Server {
	t.Helper()
	s := &Server{handler: handler}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /messages", s.serveMessages)
	mux.HandleFunc("POST /v1/messages", s.serveMessages)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

type anthropicRequest struct {
	Model     string          `json:"model"`
	System    json.RawMessage `json:"system"`
	MaxTokens int             `json:"max_tokens"`
	Messages  []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream      bool     `json:"stream"`
	Temperature *float64 `json:"temperature"`
}

func (s *Server) serveMessages(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeAnthropicError(w, http.StatusBadRequest, "cannot read body")
		return
	}
	var ar anthropicRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		writeAnthropicError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if ar.MaxTokens <= 0 {
		writeAnthropicError(w, http.StatusBadRequest, "max_tokens: field required")
		return
	}
	req := ChatRequest{
		Path:          r.URL.Path,
		Model:         ar.Model,
		Stream:        ar.Stream,
		Temperature:   ar.Temperature,
		MaxTokens:     ar.MaxTokens,
		Authorization: "Bearer " + r.Header.Get("x-api-key"),
		Body:          json.RawMessage(body),
	}
	if sys := contentText(ar.System); len(ar.System) > 0 && sys != "null" && sys != "" {
		req.Messages = append(req.Messages, Message{Role: "system", Content: sys})
	}
	for _, m := range ar.Messages {
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: contentText(m.Content)})
	}
	reply, ok := s.reply(w, r, req, writeAnthropicError)
	if !ok {
		return
	}
	content := reply.text()
	in, out := reply.tokens(req, content)
	stop := reply.FinishReason
	if stop == "" {
		stop = "end_turn"
	}
	id := fmt.Sprintf("msg_test_%d", time.Now().UnixNano())
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content":     []any{map[string]any{"type": "text", "text": content}},
			"stop_reason": stop, "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": in, "output_tokens": out},
		})
		return
	}
	chunks := reply.Chunks
	if chunks == nil {
		chunks = splitWords(content)
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(event string, data map[string]any) bool {
		b, _ := json.Marshal(data)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return r.Context().Err() == nil
	}
	if !send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
		"stop_reason": nil, "usage": map[string]any{"input_tokens": in, "output_tokens": 1},
	}}) {
		return
	}
	if !send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}}) {
		return
	}
	if !send("ping", map[string]any{"type": "ping"}) {
		return
	}
	for i, c := range chunks {
		if i > 0 && !wait(r, reply.ChunkDelay) {
			return
		}
		if !send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": c}}) {
			return
		}
	}
	if !send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) {
		return
	}
	usage := map[string]any{"output_tokens": out}
	if reply.OmitUsage {
		usage = map[string]any{}
	}
	if !send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": usage}) {
		return
	}
	send("message_stop", map[string]any{"type": "message_stop"})
}

func writeAnthropicError(w http.ResponseWriter, status int, msg string) {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status == 529:
		typ = "overloaded_error"
	case status >= 500:
		typ = "api_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
}
