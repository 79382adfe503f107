// Package secret seals small secrets (users' provider API keys) for storage:
// AES-256-GCM under a key derived from the server's SECRET_KEY with HKDF-SHA256.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest SECRET_KEY accepted, in bytes.
const MinSecretLen = 32

// version prefixes every sealed value, so that the scheme can change later.
const version byte = 1

// hkdfInfo binds the derived key to its one use.
const hkdfInfo = "autoanalyst: user API keys v1"

// ErrNoSecret is returned by a nil Box: the server has no SECRET_KEY.
var ErrNoSecret = errors.New("SECRET_KEY is not set: the server cannot store or use encrypted API keys")

// ErrOpen is returned when a sealed value cannot be opened: it was sealed
// under another SECRET_KEY, for another owner, or it was altered.
var ErrOpen = errors.New("the sealed value cannot be opened (SECRET_KEY changed, or the value was altered)")

// Box seals and opens values. A nil *Box refuses both with ErrNoSecret. Safe
// for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New derives a Box from the server's secret. An empty secret gives a nil
// Box (no error): storing keys is then refused when it is asked for.
func New(secretKey string) (*Box, error) {
	if secretKey == "" {
		return nil, nil
	}
	if len(secretKey) < MinSecretLen {
		return nil, fmt.Errorf("SECRET_KEY must be at least %d bytes (e.g. `openssl rand -hex 32`), got %d", MinSecretLen, len(secretKey))
	}
	key, err := hkdf.Key(sha256.New, []byte(secretKey), nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new GCM: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext for an owner (authenticated, not encrypted: the
// value opens only for the same owner). The result is version || nonce ||
// ciphertext.
func (b *Box) Seal(plaintext []byte, owner string) ([]byte, error) {
	if b == nil {
		return nil, ErrNoSecret
	}
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, []byte(owner)), nil
}

// Open decrypts a value Seal made for owner.
func (b *Box) Open(sealed []byte, owner string) ([]byte, error) {
	if b == nil {
		return nil, ErrNoSecret
	}
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(owner))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
