package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// outputFile is an OutputFile as a client reads it.
type outputFile struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Size      int    `json:"size"`
	MediaType string `json:"mediaType"`
	URL       string `json:"url"`
}

// summaryCode writes a CSV file, an HTML page and a link out of the folder
// to /tmp/outputs: the link is not followed.
const summaryCode = "import os\n" +
	"means = df.groupby('city', as_index=False)['price'].mean()\n" +
	"means.to_csv('/tmp/outputs/summary.csv', index=False)\n" +
	"open('/tmp/outputs/page.html', 'w').write('<script>alert(1)</script>')\n" +
	"os.symlink('/etc/passwd', '/tmp/outputs/passwd')\n" +
	"print('saved')"

// TestOutputFiles: a file the answer's code writes to /tmp/outputs is
// announced (FILES), listed on the answer and downloaded by its owner, as
// an attachment; another user gets 404, no token 401.
func TestOutputFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: llmtest.Text("```python\n" + summaryCode + "\n```\nThe means, saved.")},
	).Handle)
	srv := startServer(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()
	chatID := housesChat(t, srv, alice)

	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "@data_viz_agent save the mean price per city"}, &r)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	filesEv, msgEv := find(evs, "FILES"), find(evs, "MESSAGE")
	if filesEv == nil || msgEv == nil || len(filesEv.Files) != 2 {
		t.Fatalf("FILES event %+v, MESSAGE %+v", filesEv, msgEv)
	}

	var q struct {
		Node struct {
			Files []outputFile `json:"files"`
		} `json:"node"`
	}
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Message { files { id name size mediaType url } } } }`,
		map[string]any{"id": msgEv.MessageID}, &q)
	files := map[string]outputFile{}
	for _, f := range q.Node.Files {
		files[f.Name] = f
	}
	csv, page := files["summary.csv"], files["page.html"]
	if len(files) != 2 || csv.ID != filesEv.Files[1].ID && csv.ID != filesEv.Files[0].ID ||
		csv.MediaType != "text/csv; charset=utf-8" || csv.URL != "/files/"+csv.ID || page.MediaType != "application/octet-stream" {
		t.Fatalf("message files %+v (event %+v)", q.Node.Files, filesEv.Files)
	}
	want := "city,price\nLyon,225.0\nNice,300.0\nParis,125.0\n"
	code, h, body := srv.download(alice, csv.URL)
	if code != 200 || body != want || csv.Size != len(want) {
		t.Fatalf("download: %d %q (size %d)", code, body, csv.Size)
	}
	if cd := h.Get("Content-Disposition"); cd != `attachment; filename=summary.csv` ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("headers %v", h)
	}
	if code, h, _ := srv.download(alice, page.URL); code != 200 || strings.Contains(h.Get("Content-Type"), "html") ||
		!strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("the HTML file: %d %v", code, h)
	}
	for _, tc := range []struct {
		name, token, path string
		want              int
	}{
		{"another user", bob, csv.URL, 404},
		{"no token", "", csv.URL, 401},
		{"unknown", alice, "/files/ofl_nope", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, _ := srv.download(tc.token, tc.path); code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
		})
	}
	// Another user does not see the message's files either.
	resp := srv.do(bob, `query($id: ID!) { node(id: $id) { ... on Message { files { id } } } }`, map[string]any{"id": msgEv.MessageID})
	if strings.Contains(string(resp.Data), csv.ID) {
		t.Fatalf("bob sees alice's files: %s", resp.Data)
	}
}
