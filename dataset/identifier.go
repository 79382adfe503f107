package dataset

import (
	"path/filepath"
	"strings"
	"unicode"

	"github.com/autoanalyst/autoanalyst/executor"
)

// MaxIdentifierLen is the longest dataset variable name.
const MaxIdentifierLen = 30

// softKeywords are Python's soft keywords (and "_"): valid names, but
// confusing ones for a dataset; the hard keywords are executor.IsKeyword's.
var softKeywords = map[string]bool{"match": true, "case": true, "type": true, "_": true}

// reserved names are the kernel's own globals.
var reserved = map[string]bool{
	"df": true, "pd": true, "np": true, "px": true, "go": true, "plt": true, "sm": true,
	"sns": true, "pio": true, "print": true,
}

// Identifier turns a file or display name into a Python identifier of at most
// 30 characters: lower case, [a-z0-9_], not starting with a digit, not a
// keyword, a kernel global or a Python built-in (those get "_data"). It never
// returns "".
func Identifier(name string) string {
	base := filepath.Base(name)
	if ext := filepath.Ext(base); ext != "" && len(ext) <= 6 {
		base = strings.TrimSuffix(base, ext)
	}
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(base) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			lastUnderscore = false
		} else if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	id := strings.Trim(b.String(), "_")
	if id == "" {
		id = "dataset"
	}
	if id[0] >= '0' && id[0] <= '9' {
		id = "d_" + id
	}
	if len(id) > MaxIdentifierLen {
		id = strings.TrimRight(id[:MaxIdentifierLen], "_")
	}
	if executor.IsKeyword(id) || softKeywords[id] || reserved[id] || executor.ReservedName(id) {
		id += "_data"
	}
	return id
}

// Unique returns id, or id with a numeric suffix, so that it is not in taken;
// the result still has at most 30 characters.
func Unique(id string, taken map[string]bool) string {
	if !taken[id] {
		return id
	}
	for n := 2; ; n++ {
		suffix := "_" + itoa(n)
		stem := id
		if len(stem)+len(suffix) > MaxIdentifierLen {
			stem = strings.TrimRight(stem[:MaxIdentifierLen-len(suffix)], "_")
		}
		if c := stem + suffix; !taken[c] {
			return c
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
