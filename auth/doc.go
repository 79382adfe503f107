// Package auth issues and checks session tokens and puts the viewer in the
// request context.
//
// Tokens are 256 random bits, shown once to the client and stored only as
// SHA-256 hashes; they expire after a configurable time.
package auth
