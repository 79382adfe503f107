package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{"GOGC unset: the server's default", map[string]string{}, defaultGOGC},
		{"GOGC empty: as unset", map[string]string{"GOGC": ""}, defaultGOGC},
		{"GOGC set: Go's, left alone", map[string]string{"GOGC": "100"}, 100},
		{"GOGC=off set: left alone", map[string]string{"GOGC": "off"}, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := debug.SetGCPercent(100)
			defer debug.SetGCPercent(old)
			tuneGC(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent %d, want %d", got, tc.want)
			}
		})
	}
}
