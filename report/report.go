package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"strings"
	"time"
)

// Report is what a deep analysis found.
type Report struct {
	// Goal is the user's question.
	Goal string
	// Questions are the research questions the analysis asked.
	Questions []string
	// Analysis is the synthesis of the agents' findings (paragraphs).
	Analysis string
	// Figures are Plotly figures as JSON ({"data": [...], "layout": {...}}).
	Figures []json.RawMessage
	// Images are PNG charts (matplotlib), base64-encoded; they follow the
	// interactive figures.
	Images []string
	// Code is the analysis script that made the figures.
	Code string
	// Conclusion, KeyTakeaways and NextSteps close the report.
	Conclusion   string
	KeyTakeaways []string
	NextSteps    []string
	// Model names the model that wrote it; GeneratedAt when.
	Model       string
	GeneratedAt time.Time
}

// Assets are the scripts a page inlines.
type Assets struct {
	// PlotlyJS is plotly.js (or plotly.min.js) itself.
	PlotlyJS []byte
}

// DefaultPlotlyPaths are where LoadPlotly looks: Debian's python3-plotly,
// then the bundle of a pip-installed plotly.
var DefaultPlotlyPaths = []string{
	"/usr/share/python3-plotly/plotly.js",
	"/usr/share/javascript/plotly/plotly.min.js",
	"/usr/lib/python3/dist-packages/plotly/package_data/plotly.min.js",
}

// LoadPlotly reads plotly.js from path, or, when path is empty, from the
// first of DefaultPlotlyPaths that exists.
func LoadPlotly(path string) (Assets, error) {
	paths := DefaultPlotlyPaths
	if path != "" {
		paths = []string{path}
	}
	var errs []error
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			if !bytes.Contains(b[:min(len(b), 4096)], []byte("plotly")) {
				return Assets{}, fmt.Errorf("report: %s does not look like plotly.js", p)
			}
			return Assets{PlotlyJS: b}, nil
		}
		errs = append(errs, err)
	}
	return Assets{}, fmt.Errorf("report: plotly.js not found (install python3-plotly, or pass its path): %w", errors.Join(errs...))
}

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"blocks": blocks,
	"inc":    func(i int) int { return i + 1 },
}).Parse(pageSource))

// figure is one figure as the page embeds it.
type figure struct {
	ID   string
	JSON template.JS // HTML-escaped JSON: cannot close its script element
}

// image is a PNG chart of the page and its figure number.
type image struct {
	Src    template.URL
	Number int
}

// Render writes r as an HTML page with assets inlined.
func Render(w io.Writer, r Report, assets Assets) error {
	if len(assets.PlotlyJS) == 0 && len(r.Figures) > 0 {
		return errors.New("report: figures need plotly.js (Assets.PlotlyJS)")
	}
	figs := make([]figure, 0, len(r.Figures))
	for i, f := range r.Figures {
		var compact bytes.Buffer
		if err := json.Compact(&compact, f); err != nil {
			return fmt.Errorf("report: figure %d is not JSON: %w", i+1, err)
		}
		var safe bytes.Buffer
		json.HTMLEscape(&safe, compact.Bytes())
		figs = append(figs, figure{ID: fmt.Sprintf("figure-%d", i+1), JSON: template.JS(safe.String())})
	}
	imgs := make([]image, 0, len(r.Images))
	for i, img := range r.Images {
		b, err := base64.StdEncoding.DecodeString(img)
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			return fmt.Errorf("report: image %d is not a base64-encoded PNG", i+1)
		}
		// A checked PNG in base64 is safe in a data: URL.
		imgs = append(imgs, image{Src: template.URL("data:image/png;base64," + img), Number: len(figs) + i + 1})
	}
	data := struct {
		Report
		Figs     []figure
		Imgs     []image
		Plotly   template.JS
		Generate string
	}{Report: r, Figs: figs, Imgs: imgs, Plotly: template.JS(scriptSafe(assets.PlotlyJS))}
	if !r.GeneratedAt.IsZero() {
		data.Generate = r.GeneratedAt.UTC().Format("2 January 2006, 15:04 UTC")
	}
	return page.Execute(w, data)
}

// HTML renders r into a string.
func HTML(r Report, assets Assets) (string, error) {
	var b strings.Builder
	if err := Render(&b, r, assets); err != nil {
		return "", err
	}
	return b.String(), nil
}

// scriptSafe keeps a script from ending its element early: "</script" in
// plotly.js's strings becomes "<\/script".
func scriptSafe(js []byte) string {
	return strings.ReplaceAll(string(js), "</script", `<\/script`)
}

// block is a paragraph or a list of a text.
type block struct {
	Items []string // a "- " or "* " list when set
	Text  string
}

// blocks splits model-written text into paragraphs (blank-line separated)
// and bullet lists, keeping it text.
func blocks(s string) []block {
	var out []block
	for _, para := range strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\r\n", "\n"), "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		lines := strings.Split(para, "\n")
		var items []string
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if item, ok := strings.CutPrefix(l, "- "); ok {
				items = append(items, item)
			} else if item, ok := strings.CutPrefix(l, "* "); ok {
				items = append(items, item)
			} else {
				items = nil
				break
			}
		}
		if items != nil {
			out = append(out, block{Items: items})
			continue
		}
		out = append(out, block{Text: strings.Join(strings.Fields(para), " ")})
	}
	return out
}
