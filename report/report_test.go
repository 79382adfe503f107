package report_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakePlotly stands in for plotly.js in golden files (8 MB otherwise).
var fakePlotly = report.Assets{PlotlyJS: []byte("/* plotly.js */ window.Plotly = {newPlot: function () {}};")}

func sample() report.Report {
	return report.Report{
		Goal:      "What drives house prices in Lisbon?",
		Questions: []string{"How does area relate to price?", "Which districts cost most per m²?"},
		Analysis:  "Price grows with area, about €3,100 per m².\n\n- Centro is the dearest district\n- Prices rose 8% in 2024",
		Figures: []json.RawMessage{
			json.RawMessage(`{"data": [{"type": "bar", "x": ["Centro", "Norte"], "y": [5200, 3100]}], "layout": {"title": {"text": "Price per m²"}}}`),
		},
		// A 1x1 PNG, as matplotlib's charts come back from the kernel.
		Images:       []string{"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="},
		Code:         "import plotly.express as px\nfig = px.bar(df, x='district', y='price_m2')\nfig.show()",
		Conclusion:   "Area and district explain most of the price.",
		KeyTakeaways: []string{"Area matters most", "Centro is 68% dearer than Norte"},
		NextSteps:    []string{"Add 2025 listings"},
		Model:        "claude-sonnet-4-6",
		GeneratedAt:  time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC),
	}
}

func TestGolden(t *testing.T) {
	got, err := report.HTML(sample(), fakePlotly)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.html")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s (run go test ./report -update and review the diff)", golden)
	}
}

// TestImagesMustBePNG refuses an image that is not a base64 PNG, which
// could otherwise smuggle another kind of data: URL into the page.
func TestImagesMustBePNG(t *testing.T) {
	for _, img := range []string{"not base64!", "PHN2Zz48L3N2Zz4=" /* <svg></svg> */} {
		r := sample()
		r.Images = []string{img}
		if _, err := report.HTML(r, fakePlotly); err == nil {
			t.Errorf("image %q was accepted", img)
		}
	}
}

// TestHostileContent: what a model wrote cannot add markup or scripts.
func TestHostileContent(t *testing.T) {
	r := sample()
	r.Goal = `<script>alert("goal")</script>`
	r.Analysis = `<img src=x onerror=alert(1)>`
	r.Code = `print("</script><script>alert(2)</script>")`
	r.Figures = []json.RawMessage{json.RawMessage(`{"data": [], "layout": {"title": "</script><script>alert(3)</script>"}}`)}
	got, err := report.HTML(r, fakePlotly)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`<script>alert`, `<img src=x`, `</script><script>`} {
		if strings.Contains(got, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if !strings.Contains(got, `\u003c/script\u003e`) {
		t.Error("the figure's JSON was not escaped for its script element")
	}
	if _, err := report.HTML(report.Report{Goal: "g", Figures: []json.RawMessage{json.RawMessage(`{not json`)}}, fakePlotly); err == nil {
		t.Error("a figure that is not JSON was accepted")
	}
}

// TestOffline: the real plotly.js is inlined, and nothing is fetched.
func TestOffline(t *testing.T) {
	assets, err := report.LoadPlotly("")
	if err != nil {
		t.Skipf("no plotly.js here: %v", err)
	}
	got, err := report.HTML(sample(), assets)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < len(assets.PlotlyJS) {
		t.Fatalf("page of %d bytes cannot hold plotly.js (%d)", len(got), len(assets.PlotlyJS))
	}
	// The page itself (plotly.js aside) loads nothing from elsewhere.
	own, _ := report.HTML(sample(), fakePlotly)
	for _, remote := range []string{`src="http`, `src="//`, `href="http`, "cdn.plot.ly", "<link"} {
		if strings.Contains(own, remote) {
			t.Errorf("the page refers to %q: it would not open offline", remote)
		}
	}
	if strings.Count(got, "</script") != strings.Count(got, "<script") {
		t.Error("plotly.js closes its script element early")
	}
}
