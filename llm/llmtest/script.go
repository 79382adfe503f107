package llmtest

import (
	"net/http"
	"strings"
	"sync"
)

// Script is a handler that answers from a queue of replies, first in first
// out. When the queue is empty it uses Fallback, or answers 500 "script
// exhausted" so that an unexpected call fails the test visibly. Safe for
// concurrent use.
type Script struct {
	mu       sync.Mutex
	replies  []Reply
	fallback func(ChatRequest) Reply
}

// NewScript returns a script that answers with replies, in order.
func NewScript(replies ...Reply) *Script {
	return &Script{replies: replies}
}

// Push queues more replies.
func (s *Script) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

// PushText queues successful text replies.
func (s *Script) PushText(contents ...string) {
	for _, c := range contents {
		s.Push(Text(c))
	}
}

// SetFallback sets the handler used once the queue is empty.
func (s *Script) SetFallback(h func(ChatRequest) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = h
}

// Remaining is the number of queued replies not yet used.
func (s *Script) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replies)
}

// Handle is the handler to pass to NewOpenAIServer.
func (s *Script) Handle(req ChatRequest) Reply {
	s.mu.Lock()
	if len(s.replies) > 0 {
		r := s.replies[0]
		s.replies = s.replies[1:]
		s.mu.Unlock()
		return r
	}
	fb := s.fallback
	s.mu.Unlock()
	if fb != nil {
		return fb(req)
	}
	return Error(http.StatusInternalServerError, "llmtest: script exhausted")
}

// Rule picks a reply for the requests it matches. Every criterion that is
// set must hold.
type Rule struct {
	// Contains must occur in the last message's content.
	Contains string
	// SystemContains must occur in the system message(s).
	SystemContains string
	// AnyContains must occur in some message.
	AnyContains string
	// Model must equal the request's model.
	Model string
	// Match, when set, must return true.
	Match func(ChatRequest) bool

	// Reply is the answer; Respond, when set, computes it instead.
	Reply   Reply
	Respond func(ChatRequest) Reply
}

func (r Rule) matches(req ChatRequest) bool {
	return (r.Contains == "" || strings.Contains(req.LastMessage(), r.Contains)) &&
		(r.SystemContains == "" || strings.Contains(req.System(), r.SystemContains)) &&
		(r.AnyContains == "" || strings.Contains(req.Text(), r.AnyContains)) &&
		(r.Model == "" || r.Model == req.Model) &&
		(r.Match == nil || r.Match(req))
}

// Router answers each request with the first rule that matches it, or with
// Default. A Default without Content, Chunks or Status counts as unset and
// answers 500 "no rule matched", so that an unexpected call fails visibly.
type Router struct {
	Rules   []Rule
	Default Reply
}

// Route is shorthand for a Router with rules and a 500 default.
func Route(rules ...Rule) *Router { return &Router{Rules: rules} }

// Handle is the handler to pass to NewOpenAIServer.
func (rt *Router) Handle(req ChatRequest) Reply {
	for _, r := range rt.Rules {
		if r.matches(req) {
			if r.Respond != nil {
				return r.Respond(req)
			}
			return r.Reply
		}
	}
	if rt.Default.Content == "" && rt.Default.Status == 0 && rt.Default.Chunks == nil {
		return Error(http.StatusInternalServerError, "llmtest: no rule matched the request")
	}
	return rt.Default
}
