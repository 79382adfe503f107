package llm

import (
	"context"
	"errors"
	"time"
)

// ErrNotConfigured is returned when no provider is configured for a request.
var ErrNotConfigured = errors.New("llm: no model provider configured: set OPENAI_API_KEY (and optionally OPENAI_BASE_URL, DEFAULT_MODEL)")

// Role of a chat message.
type Role string

// Message roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message sent to a model.
type Message struct {
	Role    Role
	Content string
}

// Request is one model call.
type Request struct {
	// Model is the model name; empty means the provider's default.
	Model       string
	Messages    []Message
	Temperature float64
	MaxTokens   int
	// OnToken, when set, asks for a streamed answer and receives each chunk.
	OnToken func(chunk string)
}

// Usage is what the provider reported for one call.
type Usage struct {
	Provider     string
	Model        string
	InputTokens  int
	OutputTokens int
	// CostUSD comes from the model registry (0 when the model is unknown).
	CostUSD  float64
	Duration time.Duration
	Streamed bool
	// Estimated is true when the provider did not report token counts (an
	// OpenAI-compatible server that ignores stream_options, or a stream that
	// broke off before its usage chunk) and InputTokens/OutputTokens were
	// estimated from the text (about four characters a token).
	Estimated bool
	// QueryChars and ResponseChars are the sizes, in characters, of the
	// messages sent and of the answer received.
	QueryChars    int
	ResponseChars int
	// Attempts is how many HTTP attempts the call made (1: no retry; 0:
	// not reported by the provider).
	Attempts int
}

// TotalTokens is InputTokens + OutputTokens.
func (u Usage) TotalTokens() int { return u.InputTokens + u.OutputTokens }

// Response is a model's answer.
type Response struct {
	Content string
	Usage   Usage
}

// Provider calls a model. Implementations are safe for concurrent use.
type Provider interface {
	// Name is the provider's name as stored in usage rows ("openai", "scripted").
	Name() string
	// Generate performs one call. On an error after tokens were spent, the
	// returned Response (non-nil) carries the Usage.
	Generate(ctx context.Context, req Request) (*Response, error)
}
