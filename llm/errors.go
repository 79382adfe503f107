package llm

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinel errors a caller can test with errors.Is.
var (
	// ErrTimeout: the model did not answer in time (after any retries).
	ErrTimeout = errors.New("llm: model call timed out")
	// ErrRateLimited: the provider answered 429 (after any retries).
	ErrRateLimited = errors.New("llm: rate limited by the provider")
	// ErrProviderUnavailable: the provider answered 5xx (after any retries).
	ErrProviderUnavailable = errors.New("llm: provider unavailable")
)

// APIError is a failed model call. Its text never holds the API key or an
// Authorization header: both are redacted from whatever the provider or the
// HTTP stack said.
type APIError struct {
	// Provider is the provider's name ("openai", "groq").
	Provider string
	// Model is the model asked for.
	Model string
	// StatusCode is the HTTP status of the last attempt; 0 when none was
	// received (timeout, network error).
	StatusCode int
	// Message is the provider's (or the transport's) explanation, redacted.
	Message string
	// Attempts is how many HTTP attempts were made.
	Attempts int
	// Timeout is true when the last attempt timed out.
	Timeout bool
	// Partial is true when a streamed answer broke off after chunks had been
	// delivered (such a call is never retried).
	Partial bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm: %s", e.Provider)
	if e.Model != "" {
		fmt.Fprintf(&b, " model %s", e.Model)
	}
	switch {
	case e.Timeout:
		b.WriteString(": timed out")
	case e.StatusCode != 0:
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	default:
		b.WriteString(": request failed")
	}
	if e.Partial {
		b.WriteString(" mid-stream")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrTimeout, ErrRateLimited and
// ErrProviderUnavailable.
func (e *APIError) Unwrap() error {
	switch {
	case e.Timeout:
		return ErrTimeout
	case e.StatusCode == 429:
		return ErrRateLimited
	case e.StatusCode >= 500:
		return ErrProviderUnavailable
	}
	return nil
}

// Retryable reports whether the failure is of a kind that is retried (429,
// 5xx, timeout) and no output was delivered.
func (e *APIError) Retryable() bool {
	return !e.Partial && (e.Timeout || e.StatusCode == 429 || e.StatusCode >= 500)
}

var (
	bearerPattern = regexp.MustCompile(`(?i)(bearer\s+)\S+`)
	// keyPattern matches OpenAI (sk-...), Groq (gsk_...), Anthropic
	// (sk-ant-...) and Google (AIza...) key shapes, including the partly
	// masked form OpenAI echoes in 401 messages ("sk-proj-****abcd").
	keyPattern = regexp.MustCompile(`\b(sk-|gsk_|AIza)[A-Za-z0-9_\-*.]{4,}`)
)

// redact removes secret from s, plus anything shaped like an API key or a
// bearer token.
func redact(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = bearerPattern.ReplaceAllString(s, "${1}[redacted]")
	return keyPattern.ReplaceAllString(s, "[redacted]")
}
