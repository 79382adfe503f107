package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes of the server's errors (extensions.code; README "Errors").
// Constants: safe for concurrent use.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeLimitExceeded   = "LIMIT_EXCEEDED"
	CodeRateLimited     = "RATE_LIMITED"
	CodePremiumRequired = "PREMIUM_REQUIRED"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL"
)

// Error is one error the server answered: a GraphQL error with its
// extensions, or an HTTP status without one. Get it from any error this
// package returns with errors.As:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == client.CodeNotFound { ... }
//
// An Error is a plain value: safe for concurrent reads.
type Error struct {
	// Message is the error's message.
	Message string
	// Code is extensions.code: one of the Code constants ("" for an HTTP
	// error without a GraphQL body).
	Code string
	// Field is extensions.field: the input field at fault (BAD_USER_INPUT).
	Field string
	// Path is the response path of the field that failed, if any.
	Path []any
	// Extensions holds every extension, code and field included.
	Extensions map[string]any
	// StatusCode is the HTTP status when it was not 200 (0 otherwise, and on
	// a WebSocket).
	StatusCode int
	// RetryAfter is the server's Retry-After (RATE_LIMITED), or 0.
	RetryAfter time.Duration
	// CloseCode is the WebSocket close code that ended a subscription (4403:
	// the token was refused), or 0.
	CloseCode int
}

func newError(w wireError) *Error {
	e := &Error{Message: w.Message, Path: w.Path, Extensions: w.Extensions}
	e.Code, _ = w.Extensions["code"].(string)
	e.Field, _ = w.Extensions["field"].(string)
	return e
}

// Error returns "CODE: message (field f)", or "HTTP 502: message" for an
// HTTP error without a code. Safe for concurrent use.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	} else if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.StatusCode)
	}
	b.WriteString(e.Message)
	if e.Field != "" {
		fmt.Fprintf(&b, " (field %s)", e.Field)
	}
	return b.String()
}

// Errors is several errors of one response, in the server's order. errors.As
// finds the first [*Error] among them. A plain value: safe for concurrent
// reads.
type Errors []*Error

// Error joins the errors' messages with "; ". Safe for concurrent use.
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap returns the errors, for errors.Is and errors.As. Safe for
// concurrent use.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns the one error, or all of them.
func (es Errors) err() error {
	if len(es) == 1 {
		return es[0]
	}
	return es
}

// Code returns the extensions.code of the first [*Error] in err's chain, or
// "" when there is none. Safe for concurrent use.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
