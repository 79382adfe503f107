package e2e

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// Scripted code of TestChatResults: a chart with its table, a matplotlib
// image and a line of output; then a block that fails (and that the code-fix
// step gives back unchanged, so that the answer keeps the error).
const (
	chartCode = "import plotly.express as px\nimport matplotlib.pyplot as plt\n" +
		"means = df.groupby('city', as_index=False)['price'].mean()\n" +
		"print('cities:', len(means))\ndisplay(means)\n" +
		"fig = px.bar(means, x='city', y='price', hover_data={'city': True})\nfig.show()\n" +
		"plt.plot([1, 2, 3], [3, 1, 2])\nplt.show()"
	failingCode = "print('before the error')\nprint(df['no_such_column'].mean())"
)

// answerResult is an ExecutionResult as a client reads it.
type answerResult struct {
	OK         bool              `json:"ok"`
	Stdout     string            `json:"stdout"`
	Stderr     string            `json:"stderr"`
	Error      *string           `json:"error"`
	ErrorType  *string           `json:"errorType"`
	ErrorAgent *string           `json:"errorAgent"`
	Traceback  *string           `json:"traceback"`
	Figures    []json.RawMessage `json:"figures"`
	Images     []string          `json:"images"`
	Tables     []struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	} `json:"tables"`
	DurationMs int `json:"durationMs"`
}

// reopenQuery reads a chat back as a client reopening it does: its messages,
// each answer with its code and what the code produced, in one query.
const reopenQuery = `query($id: ID!) { node(id: $id) { ... on Chat { messages(first: 20) { edges { node {
	id sender codeExecution { latestCode isSuccessful result {
		ok stdout stderr error errorType errorAgent traceback figures images tables { columns rows } durationMs } } } } } } } }`

type reopenedMessage struct {
	ID            string `json:"id"`
	Sender        string `json:"sender"`
	CodeExecution *struct {
		LatestCode   string        `json:"latestCode"`
		IsSuccessful bool          `json:"isSuccessful"`
		Result       *answerResult `json:"result"`
	} `json:"codeExecution"`
}

// TestChatResults: a reopened chat shows what each answer's code produced
// (output, tables, Plotly figures, images, or the error) without replaying
// its runs, on each database dialect; running an answer's code again
// replaces it.
func TestChatResults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	for _, tt := range []struct {
		name  string
		dbURL func(testing.TB) string
	}{
		{"sqlite", func(testing.TB) string { return "" }},
		{"postgres", databasetest.PostgresURL},
	} {
		t.Run(tt.name, func(t *testing.T) { testChatResults(t, tt.dbURL(t)) })
	}
}

func testChatResults(t *testing.T, databaseURL string) {
	code := func(c, summary string) llmtest.Reply { return llmtest.Text("```python\n" + c + "\n```\n" + summary) }
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: code(chartCode, "The mean price per city.")},
		llmtest.Rule{Contains: "You are statistical_analytics_agent", Reply: code(failingCode, "The mean of a column.")},
		llmtest.Rule{Contains: "The block of statistical_analytics_agent failed", Reply: code(failingCode, "Unchanged.")},
	).Handle)
	env := map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini"}
	if databaseURL != "" {
		env["DATABASE_URL"] = databaseURL
	}
	srv := startServer(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)

	// follow runs a run to its end and returns its events.
	follow := func(runID string) []event {
		t.Helper()
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		return evs
	}
	ask := func(content string) []event {
		t.Helper()
		var r struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": content}, &r)
		evs := follow(r.SendMessage.ID)
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event %+v", last)
		}
		return evs
	}
	reopen := func() []reopenedMessage {
		t.Helper()
		var q struct {
			Node struct {
				Messages struct {
					Edges []struct{ Node reopenedMessage } `json:"edges"`
				} `json:"messages"`
			} `json:"node"`
		}
		srv.must(alice, reopenQuery, map[string]any{"id": chatID}, &q)
		var out []reopenedMessage
		for _, e := range q.Node.Messages.Edges {
			out = append(out, e.Node)
		}
		return out
	}

	chart := ask("@data_viz_agent chart the mean price by city, with the table")
	ask("@statistical_analytics_agent the mean of the missing column")

	msgs := reopen()
	if len(msgs) != 4 || msgs[0].Sender != "USER" || msgs[0].CodeExecution != nil || msgs[1].Sender != "AI" || msgs[3].Sender != "AI" {
		t.Fatalf("messages %+v", msgs)
	}
	ok := msgs[1].CodeExecution
	if ok == nil || ok.Result == nil || !ok.IsSuccessful || !strings.Contains(ok.LatestCode, "px.bar(means") {
		t.Fatalf("first answer's code execution %+v", ok)
	}
	res := ok.Result
	if !res.OK || res.Stdout != "cities: 3\n" || res.Error != nil || res.Traceback != nil || res.DurationMs <= 0 {
		t.Fatalf("first answer's result %+v", res)
	}
	if tables, _ := json.Marshal(res.Tables); string(tables) != `[{"columns":["city","price"],"rows":[["Lyon",225],["Nice",300],["Paris",125]]}]` {
		t.Fatalf("tables %s", tables)
	}
	if len(res.Images) != 1 || !strings.HasPrefix(res.Images[0], "iVBORw0KGgo") {
		t.Fatalf("images %d, want one base64 PNG", len(res.Images))
	}
	// The stored figure is the one the run's EXECUTION_RESULT carried.
	ev := find(chart, "EXECUTION_RESULT")
	if len(res.Figures) != 1 || ev == nil || len(ev.Result.Figures) != 1 {
		t.Fatalf("figures %d stored, event %+v", len(res.Figures), ev)
	}
	var stored, streamed map[string]any
	if json.Unmarshal(res.Figures[0], &stored) != nil || json.Unmarshal(ev.Result.Figures[0], &streamed) != nil ||
		stored["data"] == nil || stored["layout"] == nil || !reflect.DeepEqual(stored, streamed) {
		t.Fatalf("stored figure differs from the event's:\n%s\n%s", res.Figures[0], ev.Result.Figures[0])
	}

	failed := msgs[3].CodeExecution
	if failed == nil || failed.Result == nil || failed.IsSuccessful {
		t.Fatalf("second answer's code execution %+v", failed)
	}
	res = failed.Result
	if res.OK || res.Stdout != "before the error\n" || res.ErrorType == nil || *res.ErrorType != "KeyError" ||
		res.Error == nil || !strings.Contains(*res.Error, "no_such_column") ||
		res.ErrorAgent == nil || *res.ErrorAgent != "statistical_analytics_agent" ||
		res.Traceback == nil || !strings.Contains(*res.Traceback, "KeyError") ||
		len(res.Figures) != 0 || len(res.Tables) != 0 || len(res.Images) != 0 {
		t.Fatalf("second answer's result %+v", res)
	}

	// Running an answer's code again stores what it produced this time.
	var r struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	srv.must(alice, `mutation($chat: ID!, $msg: ID!, $code: String!) { executeCode(input: {chatID: $chat, messageID: $msg, code: $code}) { id } }`,
		map[string]any{"chat": chatID, "msg": msgs[1].ID, "code": "print(undefined_name)"}, &r)
	if evs := follow(r.ExecuteCode.ID); evs[len(evs)-1].Type != "RUN_FAILED" {
		t.Fatalf("last event %+v", evs[len(evs)-1])
	}
	again := reopen()[1].CodeExecution
	if again == nil || again.Result == nil || again.IsSuccessful || again.LatestCode != "print(undefined_name)" ||
		again.Result.OK || again.Result.ErrorType == nil || *again.Result.ErrorType != "NameError" || len(again.Result.Figures) != 0 {
		t.Fatalf("after running the code again %+v", again)
	}
}
