package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// frameCode makes a frame of the mean price per city with notes a
// spreadsheet would run as formulas, and a number that is not a frame.
const frameCode = "summary = df.groupby('city', as_index=False)['price'].mean()\n" +
	"summary['note'] = ['=1+1', '@SUM(A1)', 'plain']\n" +
	"n = 3\n" +
	"print(len(summary))"

// readSavedCode reads the saved frame in a new chat.
const readSavedCode = "print(df.to_csv(index=False))"

// framesServer starts the binary with a scripted model: a question that
// makes the frame (frameCode), and one that prints the chat's first
// dataset (readSavedCode).
func framesServer(t *testing.T) *server {
	t.Helper()
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "mean price per city", Reply: llmtest.Text("```python\n" + frameCode + "\n```\nThe means.")},
		llmtest.Rule{Contains: "show the saved frame", Reply: llmtest.Text("```python\n" + readSavedCode + "\n```\nThe frame.")},
	).Handle)
	return startServer(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini"})
}

// ask sends a question to a chat and follows its run to the end; it
// returns the run's ID and its events.
func ask(t *testing.T, srv *server, token, chatID, question string) (string, []event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(token, sendMutation, map[string]any{"chat": chatID, "content": question}, &r)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(token), r.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	return r.SendMessage.ID, evs
}

const saveAsDatasetMutation = `mutation($run: ID!, $variable: String!, $name: String) {
  saveAsDataset(input: {run: $run, variable: $variable, name: $name}) { id name fileName rowCount columns { name dtype } } }`

const exportFrameMutation = `mutation($run: ID!, $variable: String!, $format: FrameFormat!) {
  exportFrame(run: $run, variable: $variable, format: $format) { id name size mediaType url } }`

// TestSaveAsDataset: a frame an answer made is saved as a dataset of its
// owner, profiled like an upload, and used in a new chat whose code reads
// it; another user cannot save it.
func TestSaveAsDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := framesServer(t)
	alice, bob := srv.session(), srv.session()
	runID, _ := ask(t, srv, alice, housesChat(t, srv, alice), "@data_viz_agent the mean price per city")

	var saved struct {
		SaveAsDataset struct {
			ID, Name, FileName string
			RowCount           int
			Columns            []struct{ Name, Dtype string }
		} `json:"saveAsDataset"`
	}
	srv.must(alice, saveAsDatasetMutation, map[string]any{"run": runID, "variable": "summary", "name": "City means"}, &saved)
	d := saved.SaveAsDataset
	if d.Name != "city_means" || d.FileName != "summary.csv" || d.RowCount != 3 || len(d.Columns) != 3 ||
		d.Columns[1].Name != "price" || d.Columns[1].Dtype != "float64" {
		t.Fatalf("saved dataset %+v", d)
	}
	// Saved again without a name: the variable's name.
	var again struct {
		SaveAsDataset struct{ Name string } `json:"saveAsDataset"`
	}
	srv.must(alice, saveAsDatasetMutation, map[string]any{"run": runID, "variable": "summary"}, &again)
	if again.SaveAsDataset.Name != "summary" {
		t.Fatalf("second save named %q", again.SaveAsDataset.Name)
	}

	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{d.ID}}, &chat)
	_, evs := ask(t, srv, alice, chat.CreateChat.ID, "@data_viz_agent show the saved frame")
	res := find(evs, "EXECUTION_RESULT")
	want := "city,price,note\nLyon,225.0,=1+1\nNice,300.0,@SUM(A1)\nParis,125.0,plain\n"
	if res == nil || res.Result == nil || !res.Result.OK || !strings.Contains(res.Result.Stdout, want) {
		t.Fatalf("the new chat's execution: %+v", res)
	}

	for _, tc := range []struct {
		name, token, run, variable, code string
	}{
		{"another user's run", bob, runID, "summary", "NOT_FOUND"},
		{"unknown run", alice, "run_01nope", "summary", "NOT_FOUND"},
		{"bad variable", alice, runID, "summary; import os", "BAD_USER_INPUT"},
		{"not a frame", alice, runID, "n", "BAD_USER_INPUT"},
		{"missing", alice, runID, "nope", "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := srv.do(tc.token, saveAsDatasetMutation, map[string]any{"run": tc.run, "variable": tc.variable})
			if resp.code() != tc.code {
				t.Fatalf("code %q, want %q: %+v", resp.code(), tc.code, resp.Errors)
			}
		})
	}
	// Bob has no dataset from alice's run.
	resp := srv.do(bob, `{ datasets { totalCount } }`, nil)
	if !strings.Contains(string(resp.Data), `"totalCount":0`) {
		t.Fatalf("bob's datasets: %s %+v", resp.Data, resp.Errors)
	}
}

// TestExportFrame: a frame an answer made is exported as CSV and XLSX,
// downloaded by its owner with the formula-like cells neutralised; another
// user is refused, and so are bad variables.
func TestExportFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := framesServer(t)
	alice, bob := srv.session(), srv.session()
	runID, _ := ask(t, srv, alice, housesChat(t, srv, alice), "@data_viz_agent the mean price per city")

	export := func(format string) outputFile {
		t.Helper()
		var r struct {
			ExportFrame outputFile `json:"exportFrame"`
		}
		srv.must(alice, exportFrameMutation, map[string]any{"run": runID, "variable": "summary", "format": format}, &r)
		return r.ExportFrame
	}
	csvFile := export("CSV")
	if csvFile.Name != "summary.csv" || csvFile.MediaType != "text/csv; charset=utf-8" || csvFile.URL != "/files/"+csvFile.ID {
		t.Fatalf("csv file %+v", csvFile)
	}
	code, h, body := srv.download(alice, csvFile.URL)
	want := "\"city\",\"price\",\"note\"\n\"Lyon\",225.0,\"'=1+1\"\n\"Nice\",300.0,\"'@SUM(A1)\"\n\"Paris\",125.0,\"plain\"\n"
	if code != 200 || body != want || csvFile.Size != len(want) {
		t.Fatalf("csv download: %d %q", code, body)
	}
	if h.Get("Content-Disposition") != "attachment; filename=summary.csv" {
		t.Fatalf("headers %v", h)
	}

	xlsxFile := export("XLSX")
	code, h, body = srv.download(alice, xlsxFile.URL)
	if code != 200 || xlsxFile.Name != "summary.xlsx" || !strings.HasPrefix(body, "PK\x03\x04") ||
		h.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx download: %d %v (%d bytes)", code, h, len(body))
	}
	rows := xlsxRows(t, []byte(body))
	wantRows := `[["city","price","note"],["Lyon",225,"'=1+1"],["Nice",300,"'@SUM(A1)"],["Paris",125,"plain"]]`
	if rows != wantRows {
		t.Fatalf("xlsx cells %s, want %s", rows, wantRows)
	}

	for _, tc := range []struct {
		name, token, run, variable, format, code string
	}{
		{"another user's run", bob, runID, "summary", "CSV", "NOT_FOUND"},
		{"unknown run", alice, "run_01nope", "summary", "XLSX", "NOT_FOUND"},
		{"bad variable", alice, runID, "__import__('os')", "CSV", "BAD_USER_INPUT"},
		{"not a frame", alice, runID, "n", "XLSX", "BAD_USER_INPUT"},
		{"missing", alice, runID, "nope", "CSV", "BAD_USER_INPUT"},
		{"bad format", alice, runID, "summary", "PDF", "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := srv.do(tc.token, exportFrameMutation, map[string]any{"run": tc.run, "variable": tc.variable, "format": tc.format})
			if resp.code() != tc.code {
				t.Fatalf("code %q, want %q: %+v", resp.code(), tc.code, resp.Errors)
			}
		})
	}
	if code, _, _ := srv.download(bob, csvFile.URL); code != 404 {
		t.Fatalf("bob downloads alice's export: %d", code)
	}
}

// xlsxRows reads a workbook's first sheet with openpyxl (Debian's
// python3-openpyxl, which the executor needs too) as JSON rows, and fails
// when a cell is a formula.
func xlsxRows(t *testing.T, data []byte) string {
	t.Helper()
	const py = `import io, json, sys, openpyxl
ws = openpyxl.load_workbook(io.BytesIO(sys.stdin.buffer.read())).worksheets[0]
rows = []
for r in ws.iter_rows():
    for c in r:
        if c.data_type == "f":
            sys.exit("formula in " + c.coordinate)
    rows.append([c.value for c in r])
print(json.dumps(rows, separators=(",", ":")))`
	cmd := exec.Command("/usr/bin/python3", "-c", py)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("read the workbook: %v: %s", err, out)
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("workbook rows %q: %v", out, err)
	}
	return strings.TrimSpace(string(out))
}
