// Package errcode gives errors a machine-readable code that the GraphQL layer
// puts in extensions.code, so a client can switch on it.
package errcode

import (
	"errors"
	"fmt"
)

// Code is one of the documented error codes.
type Code string

// The documented codes (README "Errors").
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	LimitExceeded   Code = "LIMIT_EXCEEDED"
	RateLimited     Code = "RATE_LIMITED"
	PremiumRequired Code = "PREMIUM_REQUIRED"
	// CreditsExhausted refuses a run that would take the user past their
	// monthly allowance of credits; its extensions name the allowance, the
	// credits used, the run's cost and when the allowance renews.
	CreditsExhausted Code = "CREDITS_EXHAUSTED"
	Unavailable      Code = "UNAVAILABLE"
	Internal         Code = "INTERNAL"
)

// Error is an error with a code and, for bad input, the field it concerns.
// Its message is safe to show to the client.
type Error struct {
	Code    Code
	Field   string
	Message string
	Err     error
	// Extensions are details put next to the code in the GraphQL error's
	// extensions (JSON values).
	Extensions map[string]any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// ErrorCode returns the code as a string, for packages that do not import
// this one (graphws).
func (e *Error) ErrorCode() string { return string(e.Code) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a client-safe message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns a BAD_USER_INPUT error about one input field.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Of returns the code of err, or Internal when it has none.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
