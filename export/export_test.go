package export

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with what the code produces now")

var created = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

// answer is an AI message whose content is composed as the orchestrator
// composes it: the text, the code, its output.
func answer(id, text, code string, ce *ent.CodeExecution) *ent.Message {
	content := text
	if code != "" {
		content += "\n\n```python\n" + code + "\n```\n\nOutput:\n\n```\nsomething\n```"
	}
	m := &ent.Message{ID: id, Sender: message.SenderAI, Content: content}
	m.Edges.CodeExecution = ce
	return m
}

func question(id, text string) *ent.Message {
	return &ent.Message{ID: id, Sender: message.SenderUSER, Content: text}
}

// fixtures are the chats rendered to the golden files.
func fixtures() map[string]struct {
	chat *ent.Chat
	msgs []*ent.Message
} {
	houses := &ent.Chat{ID: "cht_01houses", Title: "Price | by city", CreatedAt: created}
	houses.Edges.Datasets = []*ent.Dataset{{Name: "houses"}, {Name: "targets"}}
	chartCode := "import plotly.express as px\nfig = px.bar(df, x='city', y='price', title='Mean price')\nfig.show()\nprint(df.head(2))"
	failing := "print(df['pryce'])"
	return map[string]struct {
		chat *ent.Chat
		msgs []*ent.Message
	}{
		"empty": {chat: &ent.Chat{ID: "cht_01empty", Title: "  ", CreatedAt: created}},
		"houses": {chat: houses, msgs: []*ent.Message{
			question("msg_01q1", "Chart the price by city\n```\nan unclosed fence, `x` | y"),
			answer("msg_01a1", "### data_viz_agent\n\nA bar chart of the mean price per city.", chartCode, &ent.CodeExecution{
				ID: "cex_01a1", InitialCode: chartCode, LatestCode: chartCode,
				Result: (`{"ok":true,"stdout":"    price   city\n0   100  Paris\n","stderr":"a warning\n","figures":[{"data":[{"type":"bar","x":["Paris","Lyon"],"y":[125,200]}],"layout":{"title":{"text":"Mean price"}}}],` +
					`"images":["iVBORw0KGgo="],"tables":[{"columns":["city | name","price","ok"],"rows":[["Paris | 75",125.5,true],["Lyon",null,false],["<b>*x*</b>",1e21,true]],"truncated":true}],"duration":12000000}`),
			}),
			question("msg_01q2", "Now the mean of pryce, with ```` in it"),
			answer("msg_01a2", "The mean price.", failing, &ent.CodeExecution{
				ID: "cex_01a2", InitialCode: failing, LatestCode: failing,
				Result: (`{"ok":false,"stdout":"","stderr":"","error":{"type":"KeyError","message":"'pryce'","line":1,` +
					`"traceback":"Traceback (most recent call last):\n  File \"<code>\", line 1, in <module>\nKeyError: 'pryce'\n"},"figures":[],"duration":1000}`),
			}),
			question("msg_01q3", "Hello?"),
			answer("msg_01a3", "Hello! Ask me about your data.", "", nil),
			answer("msg_01a4", "Code that never ran, with ``` in a string.", "s = '```'", &ent.CodeExecution{
				ID: "cex_01a4", InitialCode: "s = '```'", LatestCode: "",
			}),
		}},
	}
}

func TestGolden(t *testing.T) {
	for name, fx := range fixtures() {
		for _, f := range []Format{FormatNotebook, FormatMarkdown} {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				file, err := Render(fx.chat, fx.msgs, f)
				if err != nil {
					t.Fatal(err)
				}
				ext := filepath.Ext(file.Filename)
				checkGolden(t, filepath.Join("testdata", name+ext), file.Content)
				if f == FormatNotebook {
					validateNotebook(t, file.Content)
				}
			})
		}
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./export -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./export -update and review the diff):\n%s", path, got)
	}
}

// validateNotebook checks nb with nbformat.validate (Debian's
// python3-nbformat); without it the check is skipped, except under CI=true.
func validateNotebook(t *testing.T, nb []byte) {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import nbformat").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("nbformat is missing (apt-get install python3-nbformat): %v", err)
		}
		t.Log("nbformat is missing: the notebook is not validated")
		return
	}
	cmd := exec.Command(py, "-c", "import nbformat,sys; nb=nbformat.read(sys.stdin, as_version=4); nbformat.validate(nb)")
	cmd.Stdin = bytes.NewReader(nb)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nbformat.validate: %v\n%s", err, out)
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if _, err := Render(&ent.Chat{ID: "cht_1"}, nil, "PDF"); err == nil {
		t.Fatal("no error for an unknown format")
	}
}

func TestFileName(t *testing.T) {
	for _, tt := range []struct{ title, want string }{
		{"City Price Chart", "city-price-chart.ipynb"},
		{"  Sales: 2024 / Q1!  ", "sales-2024-q1.ipynb"},
		{"Ventes à Paris", "ventes-paris.ipynb"},
		{"日本語", "cht_1.ipynb"},
		{"", "cht_1.ipynb"},
		{strings.Repeat("a", 100), strings.Repeat("a", 60) + ".ipynb"},
	} {
		if got := FileName(&ent.Chat{ID: "cht_1", Title: tt.title}, ".ipynb"); got != tt.want {
			t.Errorf("FileName(%q) = %q, want %q", tt.title, got, tt.want)
		}
	}
}

func TestAnswerText(t *testing.T) {
	for _, tt := range []struct {
		content string
		codes   []string
		want    string
	}{
		{"Text.\n\n```python\nx = 1\n```\n\nOutput:\n\n```\n1\n```", []string{"x = 1"}, "Text."},
		// The code ran again since: cut at the last python block.
		{"Text.\n\n```python\nx = 1\n```", []string{"x = 2"}, "Text."},
		{"See ```python\nx``` inline.", nil, "See ```python\nx``` inline."},
		{"```python\na\n```\nmore\n\n```python\nb\n```", []string{"b"}, "```python\na\n```\nmore"},
		{"No code.", []string{"x"}, "No code."},
	} {
		if got := answerText(tt.content, tt.codes...); got != tt.want {
			t.Errorf("answerText(%q) = %q, want %q", tt.content, got, tt.want)
		}
	}
}

func TestCloseFences(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"```\ncode\n```", "```\ncode\n```"},
		{"```\nopen", "```\nopen\n```"},
		{"````py\n```\nstill open\n", "````py\n```\nstill open\n````"},
		{"~~~\nx\n```", "~~~\nx\n```\n~~~"},
		{"``` a`b\nnot a fence", "``` a`b\nnot a fence"},
		{"    ```\nindented code", "    ```\nindented code"},
		{"```\nx\n``` not a close", "```\nx\n``` not a close\n```"},
	} {
		if got := closeFences(tt.in); got != tt.want {
			t.Errorf("closeFences(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFenced(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"x", "```text\nx\n```\n"},
		{"a ``` b\n", "````text\na ``` b\n````\n"},
		{"`````", "``````text\n`````\n``````\n"},
	} {
		if got := fenced("text", tt.text); got != tt.want {
			t.Errorf("fenced(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestCellText(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{nil, "NaN"}, {100.0, "100"}, {2.5, "2.5"}, {1e21, "1e+21"}, {true, "True"}, {"a|b", "a|b"},
		{map[string]any{"k": 1.0}, `{"k":1}`},
	} {
		if got := cellText(tt.v); got != tt.want {
			t.Errorf("cellText(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if got := mdCell("a|b\nc_`*<i>\\"); got != "a\\|b c\\_\\`\\*&lt;i&gt;\\\\" {
		t.Errorf("mdCell = %q", got)
	}
}
