package pulid

import (
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := New("cht")
		if !strings.HasPrefix(id, "cht_") || len(id) != 30 {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if i%100 == 0 {
			// Identifiers made in a later millisecond sort after earlier ones.
			if prev != "" && id[:14] < prev[:14] {
				t.Fatalf("not time-sortable: %q < %q", id, prev)
			}
			prev = id
			time.Sleep(2 * time.Millisecond)
		}
	}
	if got := Prefix("cht_abc"); got != "cht" {
		t.Fatalf("Prefix = %q", got)
	}
	if got := Prefix("nope"); got != "" {
		t.Fatalf("Prefix = %q", got)
	}
}
