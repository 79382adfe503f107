package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const exportQuery = `query($id: ID!, $format: ChatExportFormat!) { exportChat(id: $id, format: $format) { filename mediaType content } }`

type chatExport struct {
	Filename  string `json:"filename"`
	MediaType string `json:"mediaType"`
	Content   string `json:"content"`
}

// TestChatExport answers a question through the scripted model, then
// exports the chat as a notebook (validated with nbformat) and as Markdown,
// over GraphQL and the download route; another user's chat is not found.
func TestChatExport(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := scriptedLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)
	question := "Clean the data and chart the price by city"
	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": question}, &r)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event = %+v", last)
	}

	var nbOut struct {
		ExportChat chatExport `json:"exportChat"`
	}
	srv.must(alice, exportQuery, map[string]any{"id": chatID, "format": "NOTEBOOK"}, &nbOut)
	nbFile := nbOut.ExportChat
	if nbFile.Filename != "city-price-chart.ipynb" || nbFile.MediaType != "application/x-ipynb+json" {
		t.Fatalf("notebook export = %q %q", nbFile.Filename, nbFile.MediaType)
	}
	validateNotebook(t, nbFile.Content)
	checkNotebook(t, nbFile.Content, question)

	var mdOut struct {
		ExportChat chatExport `json:"exportChat"`
	}
	srv.must(alice, exportQuery, map[string]any{"id": chatID, "format": "MARKDOWN"}, &mdOut)
	md := mdOut.ExportChat
	if md.Filename != "city-price-chart.md" || md.MediaType != "text/markdown; charset=utf-8" {
		t.Fatalf("markdown export = %q %q", md.Filename, md.MediaType)
	}
	for _, want := range []string{"# City Price Chart\n", "## Question\n\n" + question + "\n", "## Answer\n",
		"The outputs above show what the code found.", "```python\n", "fig = px.bar(", "Output:\n\n```text\nmissing after cleaning: 0\n```",
		"_Chart 1: Plotly figure"} {
		if !strings.Contains(md.Content, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md.Content)
		}
	}

	// The download route gives the same files to their owner only.
	code, h, body := srv.download(alice, "/chats/"+chatID+".ipynb")
	if code != 200 || body != nbFile.Content || h.Get("Content-Type") != "application/x-ipynb+json" ||
		h.Get("Content-Disposition") != `attachment; filename="city-price-chart.ipynb"` {
		t.Fatalf("GET .ipynb = %d %v", code, h)
	}
	if code, _, body := srv.download(alice, "/chats/"+chatID+".md"); code != 200 || body != md.Content {
		t.Fatalf("GET .md = %d", code)
	}
	bob := srv.session()
	for _, tt := range []struct {
		name, token, path string
		want              int
	}{
		{"no token", "", "/chats/" + chatID + ".md", 401},
		{"another user's", bob, "/chats/" + chatID + ".ipynb", 404},
		{"another extension", alice, "/chats/" + chatID + ".pdf", 404},
		{"unknown", alice, "/chats/cht_nope.md", 404},
	} {
		if code, _, _ := srv.download(tt.token, tt.path); code != tt.want {
			t.Errorf("%s: GET %s = %d, want %d", tt.name, tt.path, code, tt.want)
		}
	}
	if res := srv.do(bob, exportQuery, map[string]any{"id": chatID, "format": "MARKDOWN"}); res.code() != "NOT_FOUND" {
		t.Errorf("bob's exportChat of alice's chat: %s", res.Data)
	}
	if res := srv.do("", exportQuery, map[string]any{"id": chatID, "format": "MARKDOWN"}); res.code() != "UNAUTHENTICATED" {
		t.Errorf("exportChat without a token: %s", res.Data)
	}
	if res := srv.do(alice, exportQuery, map[string]any{"id": chatID, "format": "PDF"}); res.code() == "" || res.code() == "INTERNAL" {
		t.Errorf("exportChat as PDF: code %q", res.code())
	}
}

// checkNotebook checks the notebook of the scripted chat turn: the question,
// the answer's text, its code with stdout and the Plotly figure.
func checkNotebook(t *testing.T, content, question string) {
	t.Helper()
	var nb struct {
		NBFormat int `json:"nbformat"`
		Metadata struct {
			Kernelspec struct{ Name string } `json:"kernelspec"`
		} `json:"metadata"`
		Cells []struct {
			CellType       string   `json:"cell_type"`
			Source         []string `json:"source"`
			ExecutionCount *int     `json:"execution_count"`
			Outputs        []struct {
				OutputType string                     `json:"output_type"`
				Name       string                     `json:"name"`
				Text       []string                   `json:"text"`
				Data       map[string]json.RawMessage `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal([]byte(content), &nb); err != nil {
		t.Fatal(err)
	}
	if nb.NBFormat != 4 || nb.Metadata.Kernelspec.Name != "python3" || len(nb.Cells) != 4 {
		t.Fatalf("notebook: nbformat %d, kernel %q, %d cells:\n%s", nb.NBFormat, nb.Metadata.Kernelspec.Name, len(nb.Cells), content)
	}
	src := func(i int) string { return strings.Join(nb.Cells[i].Source, "") }
	if nb.Cells[1].CellType != "markdown" || !strings.Contains(src(1), question) {
		t.Errorf("question cell = %q", src(1))
	}
	if nb.Cells[2].CellType != "markdown" || !strings.Contains(src(2), "The outputs above show what the code found.") || strings.Contains(src(2), "```python") {
		t.Errorf("answer cell = %q", src(2))
	}
	code := nb.Cells[3]
	if code.CellType != "code" || code.ExecutionCount == nil || *code.ExecutionCount != 1 || !strings.Contains(src(3), "fig = px.bar(") {
		t.Fatalf("code cell = %+v", code)
	}
	var stdout, plotly bool
	for _, o := range code.Outputs {
		stdout = stdout || o.OutputType == "stream" && o.Name == "stdout" && strings.Contains(strings.Join(o.Text, ""), "missing after cleaning: 0")
		plotly = plotly || o.OutputType == "display_data" && o.Data["application/vnd.plotly.v1+json"] != nil && o.Data["text/plain"] != nil
	}
	if !stdout || !plotly {
		t.Errorf("outputs: stdout %v, Plotly figure %v: %+v", stdout, plotly, code.Outputs)
	}
}

// validateNotebook checks a notebook with nbformat.validate (Debian's
// python3-nbformat); without nbformat it skips, except under CI=true.
func validateNotebook(t *testing.T, nb string) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import nbformat").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nbformat is missing (apt-get install python3-nbformat, or scripts/deps.sh): %v", err)
		}
		t.Skip("nbformat is missing: apt-get install python3-nbformat")
	}
	cmd := exec.Command(py, "-c", "import nbformat,sys; nb=nbformat.read(sys.stdin, as_version=4); nbformat.validate(nb)")
	cmd.Stdin = bytes.NewReader([]byte(nb))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nbformat.validate: %v\n%s\n%s", err, out, nb)
	}
}
