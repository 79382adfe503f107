package diskspace

import (
	"context"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	free, err := Free(dir)
	if err != nil || free == 0 {
		t.Fatalf("Free: %d, %v", free, err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		min     uint64
		wantErr string
	}{
		{"room", dir, 1, ""},
		{"full", dir, free + 1<<40, "disk full"},
		{"missing", dir + "/nope", 1, "statfs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.path, tc.min)(context.Background())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check: %v, want %q", err, tc.wantErr)
			}
		})
	}
}
