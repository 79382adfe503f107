package llmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// openAI is the chat-completions protocol of NewOpenAIServer.
type openAI struct{}

// wireRequest is the part of a chat-completions request the server reads.
type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Stream        bool     `json:"stream"`
	Temperature   *float64 `json:"temperature"`
	MaxTokens     int      `json:"max_tokens"`
	MaxCompletion int      `json:"max_completion_tokens"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (openAI) parse(r *http.Request, body []byte) (ChatRequest, error) {
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return ChatRequest{}, errors.New("invalid JSON: " + err.Error())
	}
	req := ChatRequest{
		Model:         wr.Model,
		Stream:        wr.Stream,
		IncludeUsage:  wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage,
		Temperature:   wr.Temperature,
		MaxTokens:     wr.MaxCompletion,
		Authorization: r.Header.Get("Authorization"),
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = wr.MaxTokens
	}
	for _, m := range wr.Messages {
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: contentText(m.Content)})
	}
	return req, nil
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (a answer) usage() usage {
	return usage{PromptTokens: a.in, CompletionTokens: a.out, TotalTokens: a.in + a.out}
}

func completionID() string { return fmt.Sprintf("chatcmpl-test-%d", time.Now().UnixNano()) }

func (openAI) message(a answer) any {
	resp := map[string]any{
		"id": completionID(), "object": "chat.completion", "created": time.Now().Unix(), "model": a.req.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": a.content},
			"finish_reason": a.finishReason("stop"),
		}},
	}
	if !a.reply.OmitUsage {
		resp["usage"] = a.usage()
	}
	return resp
}

// stream writes a role chunk, a chunk a delta, a finish chunk, a usage chunk
// when asked for, and "data: [DONE]".
func (openAI) stream(es *eventStream, a answer) {
	id, created, u := completionID(), time.Now().Unix(), a.usage()
	withUsage := a.req.IncludeUsage && !a.reply.OmitUsage
	send := func(choices []any, u *usage) bool {
		chunk := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": a.req.Model,
			"choices": choices,
		}
		if withUsage {
			chunk["usage"] = u // null on all but the last chunk, as OpenAI does
		}
		return es.send("", chunk)
	}
	delta := func(d map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}
	}
	if !send(delta(map[string]any{"role": "assistant", "content": ""}, nil), nil) {
		return
	}
	if !es.each(a.chunks(), a.reply.ChunkDelay, func(c string) bool {
		return send(delta(map[string]any{"content": c}, nil), nil)
	}) {
		return
	}
	if !send(delta(map[string]any{}, a.finishReason("stop")), nil) {
		return
	}
	if withUsage && !send([]any{}, &u) {
		return
	}
	_, _ = io.WriteString(es.w, "data: [DONE]\n\n")
	es.flush()
}

func (openAI) writeError(w http.ResponseWriter, status int, msg string) {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_exceeded"
	case status >= 500:
		typ = "server_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "code": strconv.Itoa(status)},
	})
}
