package report

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"time"
)

// PlotlyLoader finds plotly.js once and keeps it: in DefaultPlotlyPaths
// (or Path), else from the plotly package of Python (plotly.offline's
// get_plotlyjs, which works for Debian's python3-plotly and for a pip
// install alike). The zero value looks in DefaultPlotlyPaths and then asks
// /usr/bin/python3. Safe for concurrent use.
type PlotlyLoader struct {
	// Path, when set, is the only file tried.
	Path string
	// Python is the interpreter asked when no file is found (default
	// /usr/bin/python3).
	Python string

	once   sync.Once
	assets Assets
	err    error
}

// Load returns the page assets, reading plotly.js on the first call only.
func (l *PlotlyLoader) Load(ctx context.Context) (Assets, error) {
	l.once.Do(func() { l.assets, l.err = l.load(ctx) })
	return l.assets, l.err
}

func (l *PlotlyLoader) load(ctx context.Context) (Assets, error) {
	a, err := LoadPlotly(l.Path)
	if err == nil || l.Path != "" {
		return a, err
	}
	python := l.Python
	if python == "" {
		python = "/usr/bin/python3"
	}
	a, perr := plotlyFromPython(ctx, python)
	if perr != nil {
		return Assets{}, fmt.Errorf("%w; and from %s: %v", err, python, perr)
	}
	return a, nil
}

// plotlyFromPython asks python's plotly package for its plotly.js.
func plotlyFromPython(ctx context.Context, python string) (Assets, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import sys\nfrom plotly.offline import get_plotlyjs\nsys.stdout.write(get_plotlyjs())")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return Assets{}, fmt.Errorf("get_plotlyjs: %w: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	b := out.Bytes()
	if !bytes.Contains(b[:min(len(b), 4096)], []byte("plotly")) {
		return Assets{}, fmt.Errorf("get_plotlyjs returned %d bytes that do not look like plotly.js", len(b))
	}
	return Assets{PlotlyJS: b}, nil
}
