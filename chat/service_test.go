package chat

import (
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/errcode"
)

// TestCheckTitle: a title is trimmed and must be 1 to 200 bytes, the size
// of its column, whether a chat is created or renamed.
func TestCheckTitle(t *testing.T) {
	for in, want := range map[string]string{
		"  Sales by region ":     "Sales by region",
		strings.Repeat("a", 200): strings.Repeat("a", 200),
		strings.Repeat("é", 100): strings.Repeat("é", 100),
		"":                       "",
		"   ":                    "",
		strings.Repeat("a", 201): "",
		strings.Repeat("é", 101): "",
	} {
		got, err := checkTitle(in)
		if want == "" {
			if e, ok := errcode.As(err); !ok || e.Code != errcode.BadUserInput || e.Field != "title" {
				t.Errorf("checkTitle(%q) = %q, %v; want BAD_USER_INPUT on title", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("checkTitle(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
