package report

import (
	"context"
	"path/filepath"
	"testing"
)

func TestPlotlyLoader(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		loader *PlotlyLoader
		ok     bool
	}{
		{"default places", &PlotlyLoader{}, true},
		{"a missing file", &PlotlyLoader{Path: filepath.Join(t.TempDir(), "plotly.js")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.loader.Load(ctx)
			if tt.ok && err != nil {
				t.Skipf("no plotly here: %v", err)
			}
			if (err == nil) != tt.ok || (tt.ok && len(a.PlotlyJS) < 1<<20) {
				t.Fatalf("Load = %d bytes, %v", len(a.PlotlyJS), err)
			}
			// A second call returns what the first found.
			b, err2 := tt.loader.Load(ctx)
			if len(b.PlotlyJS) != len(a.PlotlyJS) || (err2 == nil) != (err == nil) {
				t.Fatal("the second Load differs from the first")
			}
		})
	}
}

// TestPlotlyFromPython asks the plotly package itself (the fallback when no
// file is where Debian or pip put it).
func TestPlotlyFromPython(t *testing.T) {
	a, err := plotlyFromPython(context.Background(), "/usr/bin/python3")
	if err != nil {
		t.Skipf("no plotly for /usr/bin/python3: %v", err)
	}
	if len(a.PlotlyJS) < 1<<20 {
		t.Fatalf("get_plotlyjs gave %d bytes", len(a.PlotlyJS))
	}
	if _, err := plotlyFromPython(context.Background(), filepath.Join(t.TempDir(), "python3")); err == nil {
		t.Fatal("a missing interpreter gave plotly.js")
	}
}
