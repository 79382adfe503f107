// Package requestid carries a request's id (X-Request-ID) in a context, so
// that the log lines of the request, and of the runs it enqueues, name it.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// Header is the HTTP header that carries the id, in and out.
const Header = "X-Request-ID"

// MaxLen is the longest id accepted from a client.
const MaxLen = 128

type key struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// FromContext returns the id ctx carries, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Valid reports whether a client's id may be used as it is: 1 to MaxLen
// characters of [A-Za-z0-9._-] (nothing that could forge a log line).
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns a fresh random id (32 hex digits).
func New() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// From returns the client's id when it is Valid, else a New one.
func From(clientID string) string {
	if Valid(clientID) {
		return clientID
	}
	return New()
}
