// Package pulid makes opaque, prefixed, time-sortable identifiers such as
// "cht_01jd7w1x4k9b3q8r2t5v6y7z0a": a table prefix, 48 bits of milliseconds and
// 80 random bits in Crockford base32. The prefix lets node(id) find the table;
// the randomness makes identifiers impossible to guess or enumerate.
package pulid

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// New returns a new identifier with the given prefix. Safe for concurrent use.
func New(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	// 128 bits -> 26 base32 characters (130 bits, top 2 zero).
	var sb strings.Builder
	sb.Grow(len(prefix) + 1 + 26)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		sb.WriteByte(alphabet[v&31])
	}
	return sb.String()
}

// Prefix returns the prefix of id ("cht" for "cht_..."), or "".
func Prefix(id string) string {
	i := strings.IndexByte(id, '_')
	if i <= 0 {
		return ""
	}
	return id[:i]
}

// Mixin gives a schema a string "id" field with the given prefix.
type Mixin struct {
	mixin.Schema
	prefix string
}

// MixinWithPrefix returns the id mixin for a table.
func MixinWithPrefix(prefix string) Mixin { return Mixin{prefix: prefix} }

// Fields returns the id field.
func (m Mixin) Fields() []ent.Field {
	p := m.prefix
	return []ent.Field{
		field.String("id").
			Immutable().
			NotEmpty().
			MaxLen(40).
			DefaultFunc(func() string { return New(p) }),
	}
}
