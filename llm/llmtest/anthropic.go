package llmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	return newServer(t, handler, anthropic{}, "/messages")
}

// anthropic is the Messages API protocol of NewAnthropicServer.
type anthropic struct{}

// anthropicRequest is the part of a Messages API request the server reads.
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

func (anthropic) parse(r *http.Request, body []byte) (ChatRequest, error) {
	var ar anthropicRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		return ChatRequest{}, errors.New("invalid JSON: " + err.Error())
	}
	if ar.MaxTokens <= 0 {
		return ChatRequest{}, errors.New("max_tokens: field required")
	}
	req := ChatRequest{
		Model:         ar.Model,
		Stream:        ar.Stream,
		Temperature:   ar.Temperature,
		MaxTokens:     ar.MaxTokens,
		Authorization: "Bearer " + r.Header.Get("x-api-key"),
	}
	if sys := contentText(ar.System); len(ar.System) > 0 && sys != "null" && sys != "" {
		req.Messages = append(req.Messages, Message{Role: "system", Content: sys})
	}
	for _, m := range ar.Messages {
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: contentText(m.Content)})
	}
	return req, nil
}

func messageID() string { return fmt.Sprintf("msg_test_%d", time.Now().UnixNano()) }

func (anthropic) message(a answer) any {
	return map[string]any{
		"id": messageID(), "type": "message", "role": "assistant", "model": a.req.Model,
		"content":     []any{map[string]any{"type": "text", "text": a.content}},
		"stop_reason": a.finishReason("end_turn"), "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": a.in, "output_tokens": a.out},
	}
}

// stream writes message_start, content_block_start, ping, a
// content_block_delta a delta, content_block_stop, message_delta and
// message_stop.
func (anthropic) stream(es *eventStream, a answer) {
	if !es.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": messageID(), "type": "message", "role": "assistant", "model": a.req.Model, "content": []any{},
		"stop_reason": nil, "usage": map[string]any{"input_tokens": a.in, "output_tokens": 1},
	}}) {
		return
	}
	if !es.send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]any{"type": "text", "text": ""}}) {
		return
	}
	if !es.send("ping", map[string]any{"type": "ping"}) {
		return
	}
	if !es.each(a.chunks(), a.reply.ChunkDelay, func(c string) bool {
		return es.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": c}})
	}) {
		return
	}
	if !es.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) {
		return
	}
	usage := map[string]any{"output_tokens": a.out}
	if a.reply.OmitUsage {
		usage = map[string]any{}
	}
	if !es.send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": a.finishReason("end_turn"), "stop_sequence": nil}, "usage": usage}) {
		return
	}
	es.send("message_stop", map[string]any{"type": "message_stop"})
}

func (anthropic) writeError(w http.ResponseWriter, status int, msg string) {
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
