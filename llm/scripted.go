package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
)

// ErrScriptExhausted is returned by a Scripted provider whose queue is empty
// and which has no reply function.
var ErrScriptExhausted = errors.New("llm: scripted provider has no reply left")

// ScriptedReply is one scripted answer.
type ScriptedReply struct {
	// Content is the answer, streamed word by word to OnToken.
	Content string
	// Err, when set, is returned after Content has been delivered (an
	// empty Content makes it a failure before any token).
	Err error
	// InputTokens and OutputTokens override the counts reported; 0 means
	// the number of words in the request's messages and in Content.
	InputTokens, OutputTokens int
	// ChunkDelay is slept before each chunk (honouring the context), to
	// simulate a slow model.
	ChunkDelay time.Duration
}

// Scripted is a Provider for tests. It answers from a queue of replies
// (first in, first out) or, when the queue is empty, from a reply function;
// streams each answer word by word to Request.OnToken; reports
// deterministic token counts (words, see WordCount); and records every
// request it received. It is safe for concurrent use.
type Scripted struct {
	mu       sync.Mutex
	name     string
	model    string
	queue    []ScriptedReply
	fn       func(Request) (string, error)
	requests []Request
}

// NewScripted returns a scripted provider that answers with replies, in
// order.
func NewScripted(replies ...string) *Scripted {
	s := &Scripted{name: "scripted", model: "scripted-model"}
	s.Push(replies...)
	return s
}

// NewScriptedFunc returns a scripted provider that answers every request
// with fn (after any queued replies). fn may be called concurrently.
func NewScriptedFunc(fn func(Request) (string, error)) *Scripted {
	s := NewScripted()
	s.fn = fn
	return s
}

// WithName sets the provider name reported by Name and in Usage (default
// "scripted") and returns s.
func (s *Scripted) WithName(name string) *Scripted {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = name
	return s
}

// WithDefaultModel sets the model reported in Usage when a request names
// none (default "scripted-model") and returns s.
func (s *Scripted) WithDefaultModel(model string) *Scripted {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.model = model
	return s
}

// Push queues text replies.
func (s *Scripted) Push(replies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range replies {
		s.queue = append(s.queue, ScriptedReply{Content: r})
	}
}

// PushReply queues full replies (errors, partial answers, token counts).
func (s *Scripted) PushReply(replies ...ScriptedReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// PushError queues a failure before any token.
func (s *Scripted) PushError(err error) { s.PushReply(ScriptedReply{Err: err}) }

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Scripted) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Messages = append([]Message(nil), r.Messages...)
		out[i] = r
	}
	return out
}

// Calls is the number of requests received so far.
func (s *Scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Remaining is the number of queued replies not yet used.
func (s *Scripted) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Name implements Provider.
func (s *Scripted) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Generate implements Provider.
func (s *Scripted) Generate(ctx context.Context, req Request) (*Response, error) {
	start := time.Now()
	s.mu.Lock()
	rec := req
	rec.Messages = append([]Message(nil), req.Messages...)
	s.requests = append(s.requests, rec)
	name, model := s.name, s.model
	var reply ScriptedReply
	var haveReply bool
	if len(s.queue) > 0 {
		reply, haveReply = s.queue[0], true
		s.queue = s.queue[1:]
	}
	fn := s.fn
	s.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !haveReply {
		if fn == nil {
			return nil, ErrScriptExhausted
		}
		content, err := fn(req)
		reply = ScriptedReply{Content: content, Err: err}
	}
	if req.Model != "" {
		model = req.Model
	}

	var in int
	for _, m := range req.Messages {
		in += WordCount(m.Content)
	}
	if reply.InputTokens > 0 {
		in = reply.InputTokens
	}
	usage := func(content string) Usage {
		out := WordCount(content)
		if reply.OutputTokens > 0 {
			out = reply.OutputTokens
		}
		return Usage{
			Provider: name, Model: model, InputTokens: in, OutputTokens: out,
			Duration: time.Since(start), Streamed: req.OnToken != nil,
		}
	}

	if reply.Err != nil && reply.Content == "" {
		return nil, reply.Err
	}
	var sent strings.Builder
	for _, chunk := range SplitWords(reply.Content) {
		if reply.ChunkDelay > 0 {
			t := time.NewTimer(reply.ChunkDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				if sent.Len() == 0 {
					return nil, ctx.Err()
				}
				return &Response{Content: sent.String(), Usage: usage(sent.String())}, ctx.Err()
			case <-t.C:
			}
		} else if err := ctx.Err(); err != nil && sent.Len() > 0 {
			return &Response{Content: sent.String(), Usage: usage(sent.String())}, err
		}
		sent.WriteString(chunk)
		if req.OnToken != nil {
			req.OnToken(chunk)
		}
	}
	resp := &Response{Content: reply.Content, Usage: usage(reply.Content)}
	if reply.Err != nil {
		return resp, fmt.Errorf("llm: scripted failure after %d tokens: %w", resp.Usage.OutputTokens, reply.Err)
	}
	return resp, nil
}

// WordCount is the scripted provider's token count: the number of
// whitespace-separated words.
func WordCount(s string) int { return len(strings.Fields(s)) }

// SplitWords splits s into chunks of one word each, with the whitespace
// that follows it (leading whitespace goes with the first chunk), so that
// the chunks concatenate back to s.
func SplitWords(s string) []string {
	var chunks []string
	start := 0
	inSpace := true // leading whitespace belongs to the first chunk
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
