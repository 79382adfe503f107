package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/database/databasetest"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// The end-to-end tests start the real binary and talk to it as a client does:
// HTTP, multipart uploads and WebSocket subscriptions. The LLM is a local
// server speaking OpenAI's chat-completions protocol; Python runs for real.

// housekeepingRule answers the prompts a chat turn sends besides its analysis:
// the chat's name (first turn), the interpreter's answer, the memory summary
// of each answer, its follow-up questions and the summary of an error and
// its correction.
var housekeepingRule = llmtest.Rule{
	Match: func(req llmtest.ChatRequest) bool {
		m := req.LastMessage()
		return strings.Contains(m, "You name a chat") || strings.Contains(m, "You summarise an answer") ||
			strings.Contains(m, "You summarise a code error") || strings.Contains(m, interpreterPrompt) ||
			strings.Contains(m, followUpsPrompt)
	},
	Respond: func(req llmtest.ChatRequest) llmtest.Reply {
		switch m := req.LastMessage(); {
		case strings.Contains(m, "You name a chat"):
			return llmtest.Text("City Price Chart")
		case strings.Contains(m, interpreterPrompt):
			return llmtest.Text("The outputs above show what the code found.")
		case strings.Contains(m, followUpsPrompt):
			return llmtest.Text(`["How does price vary with area?", "Which city has the most houses?"]`)
		case strings.Contains(m, "You summarise an answer"):
			return llmtest.Text("Cleaned the data and charted price by city.")
		default:
			return llmtest.Text("A column name was misspelt; the fix used the dataset's own column name.")
		}
	},
}

// scriptedLLM answers each prompt of a chat turn like a model would.
func scriptedLLM(t *testing.T) *llmtest.Server {
	return llmtest.NewOpenAIServer(t, scriptedRouter().Handle)
}

// scriptedRouter answers a chat turn on houses.csv: the rater, the planner,
// a cleaning agent and a chart agent.
func scriptedRouter() *llmtest.Router {
	return llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You rate a user's question", Reply: llmtest.Text(
			`{"complexity": "intermediate", "needs_analysis": true, "reason": "cleaning then a chart"}`)},
		llmtest.Rule{Contains: "You are the planner", Reply: llmtest.Text("```json\n" +
			`{"plan": ["preprocessing_agent", "data_viz_agent"], "instructions": {` +
			`"preprocessing_agent": {"create": ["df_clean"], "use": ["df"], "instruction": "fill missing areas"},` +
			`"data_viz_agent": {"create": ["fig"], "use": ["df_clean"], "instruction": "price by city"}}}` + "\n```")},
		llmtest.Rule{Contains: "You are preprocessing_agent", Reply: llmtest.Text(
			"```python\ndf_clean = df.copy()\ndf_clean['area'] = df_clean['area'].fillna(df_clean['area'].median())\n" +
				"print('missing after cleaning:', int(df_clean['area'].isna().sum()))\n```\n" +
				"Missing areas are filled with the median.")},
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: llmtest.Text(
			"```python\nimport plotly.express as px\nfig = px.bar(df_clean.groupby('city', as_index=False)['price'].mean(), x='city', y='price')\nfig.show()\n```\n" +
				"A bar chart of the mean price per city.")},
	)
}

// TestEndToEnd runs the whole path on each database dialect.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	tests := []struct {
		name  string
		dbURL func(testing.TB) string
	}{
		{"sqlite", func(testing.TB) string { return "" }},
		{"postgres", databasetest.PostgresURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testEndToEnd(t, tt.dbURL(t)) })
	}
}

const llmKey = "sk-test-secret-key-123456"

func testEndToEnd(t *testing.T, databaseURL string) {
	llmSrv := scriptedLLM(t)
	env := map[string]string{
		"OPENAI_API_KEY":   llmKey,
		"OPENAI_BASE_URL":  llmSrv.BaseURL(),
		"DEFAULT_MODEL":    "gpt-5-mini",
		"UPLOAD_MAX_BYTES": "1000000",
	}
	if databaseURL != "" {
		env["DATABASE_URL"] = databaseURL
	}
	srv := startServer(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	alice := srv.session()

	// Upload a CSV through the multipart request spec.
	f, err := os.Open("testdata/houses.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	up := srv.upload(alice, uploadMutation, map[string]any{"f": nil}, "f", "Houses 2024.csv", f)
	if len(up.Errors) > 0 {
		t.Fatalf("upload: %+v", up.Errors)
	}
	var uploaded struct {
		UploadDataset []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			RowCount int    `json:"rowCount"`
			Columns  []struct {
				Name      string `json:"name"`
				Dtype     string `json:"dtype"`
				NullCount int    `json:"nullCount"`
			} `json:"columns"`
		} `json:"uploadDataset"`
	}
	json.Unmarshal(up.Data, &uploaded)
	ds := uploaded.UploadDataset[0]
	if ds.Name != "houses_2024" || ds.RowCount != 5 || len(ds.Columns) != 3 {
		t.Fatalf("dataset = %+v", ds)
	}
	if c := ds.Columns[1]; c.Name != "area" || c.NullCount != 1 || !strings.HasPrefix(c.Dtype, "float") {
		t.Fatalf("area column = %+v", c)
	}

	var chat struct {
		CreateChat struct{ ID, Title string } `json:"createChat"`
	}
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{ds.ID}}, &chat)
	chatID := chat.CreateChat.ID

	t.Run("executeCode streams to RUN_SUCCEEDED", func(t *testing.T) {
		var r struct {
			ExecuteCode struct{ ID, Status string } `json:"executeCode"`
		}
		srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "print(df.shape)\nprint(houses_2024.shape)\ndisplay(df.head(3))"}, &r)
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		checkSeqs(t, evs, 1)
		last := evs[len(evs)-1]
		if last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event = %+v", last)
		}
		res := find(evs, "EXECUTION_RESULT")
		if res == nil || !res.Result.OK || res.Result.Stdout != "(5, 3)\n(5, 3)\n" {
			t.Fatalf("EXECUTION_RESULT = %+v", res)
		}
		if tables, _ := json.Marshal(res.Result.Tables); string(tables) != `[{"columns":["price","area","city"],"rows":[[100,50,"Paris"],[200,80,"Lyon"],[150,null,"Paris"]]}]` {
			t.Fatalf("tables = %s, want rows of JSON cells (numbers as numbers, a missing value null)", tables)
		}
		// A late subscriber with after= gets only the rest.
		rest, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 2, nil)
		if err != nil || len(rest) != len(evs)-2 || rest[0].Seq != 3 {
			t.Fatalf("after=2 gave %d events (err %v), want %d from seq 3", len(rest), err, len(evs)-2)
		}
	})

	t.Run("executeCode with a Python error fails the run", func(t *testing.T) {
		var r struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		}
		srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "x = 1\nundefined_name + 1"}, &r)
		evs, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Type != "RUN_FAILED" || last.ErrorCode != "EXECUTION_ERROR" || !strings.Contains(last.Text, "NameError") {
			t.Fatalf("last event = %+v", last)
		}
	})

	var chatRunID string
	t.Run("sendMessage plans, runs agents, executes and answers", func(t *testing.T) {
		var r struct {
			SendMessage struct{ ID, Status, Kind string } `json:"sendMessage"`
		}
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "Clean the data and chart the price by city"}, &r)
		chatRunID = r.SendMessage.ID
		// The legacy graphql-ws protocol, with the lowercase key.
		evs, gerr, err := srv.subscribe(ctx, "graphql-ws", map[string]any{"authorization": "Bearer " + alice}, chatRunID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		checkSeqs(t, evs, 1)
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event = %+v\nall: %+v", last, evs)
		}
		// The model named the chat after its first question.
		var named struct{ Node struct{ Title string } }
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { title } } }`, map[string]any{"id": chatID}, &named)
		if named.Node.Title != "City Price Chart" {
			t.Fatalf("chat title = %q, want the model's name for it", named.Node.Title)
		}
		plan := find(evs, "PLAN")
		if plan == nil || len(plan.Plan.Steps) != 2 || plan.Plan.Steps[1].Agent != "data_viz_agent" || plan.Plan.Steps[1].Use[0] != "df_clean" {
			t.Fatalf("PLAN = %+v", plan)
		}
		var codes []string
		for _, e := range evs {
			if e.Type == "AGENT_CODE" {
				codes = append(codes, e.Agent)
			}
		}
		if fmt.Sprint(codes) != "[preprocessing_agent data_viz_agent]" {
			t.Fatalf("AGENT_CODE events from %v", codes)
		}
		if find(evs, "TOKEN") == nil {
			t.Fatal("no TOKEN events streamed")
		}
		res := find(evs, "EXECUTION_RESULT")
		if res == nil || !res.Result.OK || !strings.Contains(res.Result.Stdout, "missing after cleaning: 0") || len(res.Result.Figures) != 1 {
			t.Fatalf("EXECUTION_RESULT = %+v", res)
		}
		var fig map[string]any
		if err := json.Unmarshal([]byte(res.Result.Figures[0]), &fig); err != nil || fig["data"] == nil {
			t.Fatalf("figure is not Plotly JSON: %v", err)
		}
		msg := find(evs, "MESSAGE")
		if msg == nil || msg.MessageID == "" {
			t.Fatalf("MESSAGE = %+v", msg)
		}
		// The answer, its code execution and the usage rows are stored.
		var q struct {
			Node struct {
				Messages struct {
					Edges []struct {
						Node struct {
							Sender        string `json:"sender"`
							CodeExecution *struct {
								IsSuccessful bool   `json:"isSuccessful"`
								InitialCode  string `json:"initialCode"`
							} `json:"codeExecution"`
						} `json:"node"`
					} `json:"edges"`
				} `json:"messages"`
			} `json:"node"`
		}
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { messages(first: 10) { edges { node {
			sender codeExecution { isSuccessful initialCode } } } } } } }`, map[string]any{"id": chatID}, &q)
		edges := q.Node.Messages.Edges
		if len(edges) != 2 || edges[0].Node.Sender != "USER" || edges[1].Node.Sender != "AI" ||
			edges[1].Node.CodeExecution == nil || !edges[1].Node.CodeExecution.IsSuccessful ||
			!strings.Contains(edges[1].Node.CodeExecution.InitialCode, "# data_viz_agent code start") {
			t.Fatalf("messages = %+v", edges)
		}
		// Every LLM call was streamed where it had a token handler, and the
		// key reached the provider only in the Authorization header.
		for _, req := range llmSrv.Requests() {
			if req.Authorization != "Bearer "+llmKey {
				t.Fatalf("Authorization = %q", req.Authorization)
			}
		}
		if strings.Contains(srv.logs.String(), llmKey) {
			t.Fatal("the API key appears in the server logs")
		}
	})

	t.Run("SSE replays and completes a finished run", func(t *testing.T) {
		evs, err := srv.subscribeSSE(ctx, alice, chatRunID, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkSeqs(t, evs, 1)
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last SSE event = %+v", last)
		}
	})

	t.Run("the sandbox has no secrets, network or host files", func(t *testing.T) {
		code := "import os, socket\n" +
			"print(sorted(k for k in os.environ if 'KEY' in k or 'DATABASE' in k))\n" +
			"print(os.path.exists('/work'), os.path.exists(os.path.expanduser('~root/.bashrc')))\n" +
			"try:\n    s = socket.socket()\n    s.settimeout(1)\n    s.connect(('127.0.0.1', 5432)); print('connected')\n" +
			"except OSError as e:\n    print('no network')\n"
		var r struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		}
		srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": code}, &r)
		evs, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := find(evs, "EXECUTION_RESULT")
		if res == nil || res.Result.Stdout != "[]\nFalse False\nno network\n" {
			t.Fatalf("sandbox probe: %+v", res)
		}
	})

	t.Run("a WebSocket with a bad token is refused", func(t *testing.T) {
		_, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit("aat_forged"), chatRunID, 0, nil)
		if err == nil && gerr == nil {
			t.Fatal("subscription with a forged token was accepted")
		}
		_, gerr, err = srv.subscribe(ctx, "graphql-transport-ws", nil, chatRunID, 0, nil)
		if err == nil && (gerr == nil || gerr.Extensions["code"] != "UNAUTHENTICATED") {
			t.Fatalf("subscription without a token: %+v", gerr)
		}
	})

	t.Run("cancelRun kills a running execution", func(t *testing.T) {
		var r struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		}
		srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "import time\nprint('start', flush=True)\ntime.sleep(60)"}, &r)
		var cancelled atomic.Bool
		start := time.Now()
		evs, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, func(e event) {
			if e.Type == "EXECUTION_STARTED" && cancelled.CompareAndSwap(false, true) {
				go func() {
					time.Sleep(300 * time.Millisecond)
					var c struct {
						CancelRun struct{ Status string } `json:"cancelRun"`
					}
					srv.must(alice, `mutation($id: ID!) { cancelRun(id: $id) { status } }`, map[string]any{"id": r.ExecuteCode.ID}, &c)
					if c.CancelRun.Status != "CANCELLED" {
						t.Errorf("cancelRun status = %s", c.CancelRun.Status)
					}
				}()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if last := evs[len(evs)-1]; last.Type != "RUN_CANCELLED" {
			t.Fatalf("last event = %+v", last)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("cancellation took %v", d)
		}
		// The kernel still works afterwards.
		var r2 struct {
			ExecuteCode struct{ ID string } `json:"executeCode"`
		}
		srv.must(alice, executeMutation, map[string]any{"chat": chatID, "code": "print(len(df))"}, &r2)
		evs, _, _ = srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r2.ExecuteCode.ID, 0, nil)
		if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "5\n" {
			t.Fatalf("after cancel: %+v", evs)
		}
	})

	t.Run("another user sees nothing of the first", func(t *testing.T) {
		bob := srv.session()
		for _, id := range []string{chatID, ds.ID, chatRunID} {
			r := srv.do(bob, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
			if r.code() != "NOT_FOUND" {
				t.Errorf("node(%s) as another user: %s %+v", id, r.Data, r.Errors)
			}
		}
		var lists struct {
			Chats    struct{ TotalCount int } `json:"chats"`
			Datasets struct{ TotalCount int } `json:"datasets"`
			Runs     struct{ TotalCount int } `json:"runs"`
		}
		srv.must(bob, `{ chats { totalCount } datasets { totalCount } runs { totalCount } }`, nil, &lists)
		if lists.Chats.TotalCount+lists.Datasets.TotalCount+lists.Runs.TotalCount != 0 {
			t.Errorf("another user's lists: %+v", lists)
		}
		_, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(bob), chatRunID, 0, nil)
		if err != nil || gerr == nil || gerr.Extensions["code"] != "NOT_FOUND" {
			t.Errorf("subscribing to another user's run: %v %+v", err, gerr)
		}
		if r := srv.do(bob, executeMutation, map[string]any{"chat": chatID, "code": "print(df)"}); r.code() != "NOT_FOUND" {
			t.Errorf("executeCode in another user's chat: %+v", r.Errors)
		}
		if r := srv.do(bob, createChatMutation, map[string]any{"ids": []string{ds.ID}}); r.code() != "NOT_FOUND" {
			t.Errorf("createChat with another user's dataset: %+v", r.Errors)
		}
		// Without a token: UNAUTHENTICATED.
		if r := srv.do("", `{ chats { totalCount } }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Errorf("chats without a token: %+v", r.Errors)
		}
		if r := srv.do("aat_not-a-real-token", `{ viewer { id } }`, nil); len(r.Errors) != 0 || string(r.Data) != `{"viewer":null}` {
			t.Errorf("viewer with a bad token: %s %+v", r.Data, r.Errors)
		}
	})

	t.Run("bad uploads get clear errors", func(t *testing.T) {
		big := strings.NewReader("a,b\n" + strings.Repeat("1,2\n", 300000))
		r := srv.upload(alice, uploadMutation, map[string]any{"f": nil}, "f", "big.csv", big)
		if r.code() != "LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "UPLOAD_MAX_BYTES") {
			t.Errorf("oversized upload: %+v", r.Errors)
		}
		r = srv.upload(alice, uploadMutation, map[string]any{"f": nil}, "f", "notes.pdf", strings.NewReader("%PDF-1.4"))
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("pdf upload: %+v", r.Errors)
		}
		r = srv.upload(alice, uploadMutation, map[string]any{"f": nil}, "f", "sheet.xlsx", strings.NewReader("not a zip"))
		if r.code() != "BAD_USER_INPUT" {
			t.Errorf("fake xlsx upload: %+v", r.Errors)
		}
		r = srv.upload("", uploadMutation, map[string]any{"f": nil}, "f", "a.csv", strings.NewReader("a\n1\n"))
		if r.code() != "UNAUTHENTICATED" {
			t.Errorf("upload without a token: %+v", r.Errors)
		}
	})

	t.Run("deep queries are refused", func(t *testing.T) {
		deep := `query($id: ID!) { node(id: $id) { ... on Chat { messages { edges { node { chat { messages { edges { node {
			chat { messages { edges { node { chat { id } } } } } } } } } } } } } } }`
		if r := srv.do(alice, deep, map[string]any{"id": chatID}); r.code() != "LIMIT_EXCEEDED" {
			t.Errorf("deep query: %+v", r.Errors)
		}
	})

	t.Run("GET serves queries only", func(t *testing.T) {
		resp, err := httpGet(srv.url + `/graphql?query=mutation{createGuestSession{token}}`)
		if err != nil || !strings.Contains(resp, "GET") {
			t.Errorf("mutation over GET: %v %s", err, resp)
		}
	})
}

// TestGracefulShutdown sends SIGTERM while a run executes: the run finishes
// and the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tok := srv.session()
	up := srv.upload(tok, uploadMutation, map[string]any{"f": nil}, "f", "h.csv", strings.NewReader("a,b\n1,2\n"))
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	json.Unmarshal(up.Data, &uploaded)
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(tok, createChatMutation, map[string]any{"ids": []string{uploaded.UploadDataset[0].ID}}, &chat)
	// The chat's kernel is started first: what is measured is the shutdown,
	// not a kernel's start (seconds on a loaded machine, more than
	// SHUTDOWN_TIMEOUT under a parallel test run).
	warm := execute(t, srv, tok, chat.CreateChat.ID, "x = 1")
	if evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(tok), warm, 0, nil); err != nil || gerr != nil ||
		len(evs) == 0 || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("warm-up run: %v %+v %+v", err, gerr, evs)
	}
	var r struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	srv.must(tok, executeMutation, map[string]any{"chat": chat.CreateChat.ID, "code": "import time\ntime.sleep(2)\nprint('done')"}, &r)
	var signalled atomic.Bool
	evs, _, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(tok), r.ExecuteCode.ID, 0, func(e event) {
		if e.Type == "EXECUTION_STARTED" && signalled.CompareAndSwap(false, true) {
			srv.cmd.Process.Signal(syscall.SIGTERM)
		}
	})
	if err != nil && len(evs) == 0 {
		t.Fatal(err)
	}
	if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "done\n" {
		t.Fatalf("events: %+v (err %v)", evs, err)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event = %+v", last)
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
}

func checkSeqs(t *testing.T, evs []event, from int) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != from+i {
			t.Fatalf("event %d has seq %d, want %d (gap or repeat)", i, e.Seq, from+i)
		}
	}
	if len(evs) == 0 {
		t.Fatal("no events")
	}
}

func find(evs []event, typ string) *event {
	for i := range evs {
		if evs[i].Type == typ {
			return &evs[i]
		}
	}
	return nil
}

// TestShutdownRequeues stops the server while a run outlasts
// SHUTDOWN_TIMEOUT: the run goes back to the queue, and the next server on the
// same data runs it to the end.
func TestShutdownRequeues(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dataDir := t.TempDir()
	env := map[string]string{"DATA_DIR": dataDir, "SHUTDOWN_TIMEOUT": "1s"}
	srv := startServer(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tok := srv.session()
	up := srv.upload(tok, uploadMutation, map[string]any{"f": nil}, "f", "h.csv", strings.NewReader("a,b\n1,2\n"))
	var uploaded struct {
		UploadDataset []struct{ ID string } `json:"uploadDataset"`
	}
	json.Unmarshal(up.Data, &uploaded)
	var chat struct {
		CreateChat struct{ ID string } `json:"createChat"`
	}
	srv.must(tok, createChatMutation, map[string]any{"ids": []string{uploaded.UploadDataset[0].ID}}, &chat)
	var r struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	srv.must(tok, executeMutation, map[string]any{"chat": chat.CreateChat.ID, "code": "import time\ntime.sleep(4)\nprint(df.shape)"}, &r)
	runID := r.ExecuteCode.ID
	var signalled atomic.Bool
	srv.subscribe(ctx, "graphql-transport-ws", authInit(tok), runID, 0, func(e event) {
		if e.Type == "EXECUTION_STARTED" && signalled.CompareAndSwap(false, true) {
			srv.cmd.Process.Signal(syscall.SIGTERM)
		}
	})
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}

	var status struct {
		Node struct{ Status string } `json:"node"`
	}
	srv2 := startServer(t, env)
	evs, gerr, err := srv2.subscribe(ctx, "graphql-transport-ws", authInit(tok), runID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe after restart: %v %+v", err, gerr)
	}
	if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "(1, 2)\n" {
		t.Fatalf("events after restart: %+v", evs)
	}
	srv2.must(tok, `query($id: ID!) { node(id: $id) { ... on Run { status } } }`, map[string]any{"id": runID}, &status)
	if status.Node.Status != "SUCCEEDED" {
		t.Fatalf("status after restart = %s", status.Node.Status)
	}
}

// TestModelsAndCleanCode reads the model registry and cleans a program.
func TestModelsAndCleanCode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	var out struct {
		Models []struct {
			Provider        string
			Name            string
			InputPricePer1K float64 `json:"inputPricePer1K"`
			Credits         int
			MaxOutputTokens int
		}
		CleanCode string
	}
	srv.must("", `{ models(provider: ANTHROPIC) { provider name inputPricePer1K credits maxOutputTokens }
		cleanCode(code: "x = 1\nimport os\nimport os") }`, nil, &out)
	found := false
	for _, m := range out.Models {
		if m.Provider != "ANTHROPIC" {
			t.Fatalf("provider filter let %+v through", m)
		}
		if m.Name == "claude-sonnet-4-6" {
			found = m.InputPricePer1K == 0.003 && m.Credits > 0 && m.MaxOutputTokens > 0
		}
	}
	if !found {
		t.Fatalf("models: %+v", out.Models)
	}
	if out.CleanCode != "import os\n\nx = 1" {
		t.Fatalf("cleanCode: %q", out.CleanCode)
	}
	if r := srv.do("", `query($c: String!) { cleanCode(code: $c) }`, map[string]any{"c": strings.Repeat("x", 300<<10)}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("oversized code: %+v", r.Errors)
	}
	// gqlgen's own errors carry our codes too, with gqlgen's as the reason.
	for q, reason := range map[string]string{
		`{ models { noSuchField } }`: "GRAPHQL_VALIDATION_FAILED",
		`{ models { name `:           "GRAPHQL_PARSE_FAILED",
	} {
		if r := srv.do("", q, nil); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["reason"] != reason {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
	}
}

// TestChatManagement renames and deletes chats, and removes the empty ones.
func TestChatManagement(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	alice, bob := srv.session(), srv.session()
	newChat := func() string {
		var c struct{ CreateChat struct{ ID string } }
		srv.must(alice, createChatMutation, map[string]any{"ids": []string{}}, &c)
		return c.CreateChat.ID
	}
	x, y, z := newChat(), newChat(), newChat()
	var sent struct{ SendMessage struct{ ID string } }
	srv.must(alice, sendMutation, map[string]any{"chat": x, "content": "hello, what's in this data?"}, &sent) // x has a message now
	runID := sent.SendMessage.ID
	// No model is configured: the first question's first words name the chat.
	var named struct{ Node struct{ Title string } }
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { title } } }`, map[string]any{"id": x}, &named)
	if named.Node.Title != "Hello what's in" {
		t.Fatalf("title after the first message = %q", named.Node.Title)
	}

	const update = `mutation($id: ID!, $title: String) { updateChat(id: $id, input: {title: $title}) { id title } }`
	var up struct{ UpdateChat struct{ Title string } }
	srv.must(alice, update, map[string]any{"id": y, "title": "  Sales 2024 "}, &up)
	if up.UpdateChat.Title != "Sales 2024" {
		t.Fatalf("title %q", up.UpdateChat.Title)
	}
	if r := srv.do(alice, update, map[string]any{"id": y, "title": " "}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "title" {
		t.Fatalf("empty title: %+v", r.Errors)
	}
	if r := srv.do(bob, update, map[string]any{"id": y, "title": "mine"}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob renames alice's chat: %+v", r.Errors)
	}
	if r := srv.do(bob, `mutation($id: ID!) { deleteChat(id: $id) }`, map[string]any{"id": x}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob deletes alice's chat: %+v", r.Errors)
	}
	if r := srv.do(bob, `mutation { deleteEmptyChats }`, nil); len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"deleteEmptyChats":0`) {
		t.Fatalf("bob's deleteEmptyChats: %s %+v", r.Data, r.Errors)
	}

	var del struct{ DeleteEmptyChats int }
	srv.must(alice, `mutation { deleteEmptyChats }`, nil, &del)
	if del.DeleteEmptyChats != 2 {
		t.Fatalf("deleted %d empty chats, want 2 (%s, %s)", del.DeleteEmptyChats, y, z)
	}
	var list struct{ Chats struct{ TotalCount int } }
	srv.must(alice, `{ chats { totalCount } }`, nil, &list)
	if list.Chats.TotalCount != 1 {
		t.Fatalf("%d chats left, want 1", list.Chats.TotalCount)
	}

	var gone struct{ DeleteChat string }
	srv.must(alice, `mutation($id: ID!) { deleteChat(id: $id) }`, map[string]any{"id": x}, &gone)
	if gone.DeleteChat != x {
		t.Fatalf("deleteChat returned %q", gone.DeleteChat)
	}
	for _, id := range []string{x, runID} {
		if r := srv.do(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}); r.code() != "NOT_FOUND" {
			t.Fatalf("%s after deleteChat: %s %+v", id, r.Data, r.Errors)
		}
	}
}

// TestAddDatasetsToChat adds a dataset to a chat: the next execution has it.
func TestAddDatasetsToChat(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()
	upload := func(tok, name, csv string) string {
		var up struct{ UploadDataset []struct{ ID string } }
		r := srv.upload(tok, uploadMutation, map[string]any{"f": nil, "name": name}, "f", name+".csv", strings.NewReader(csv))
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &up) != nil || len(up.UploadDataset) != 1 {
			t.Fatalf("upload %s: %+v", name, r)
		}
		return up.UploadDataset[0].ID
	}
	first := upload(alice, "first", "a,b\n1,2\n")
	second := upload(alice, "second", "c\n1\n2\n3\n")
	bobs := upload(bob, "secret", "s\n1\n")
	var c struct{ CreateChat struct{ ID string } }
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{first}}, &c)
	chatID := c.CreateChat.ID

	const add = `mutation($chat: ID!, $ids: [ID!]!) { addDatasetsToChat(chatID: $chat, datasetIDs: $ids) { datasets { totalCount } } }`
	if r := srv.do(alice, add, map[string]any{"chat": chatID, "ids": []string{bobs}}); r.code() != "NOT_FOUND" {
		t.Fatalf("adding bob's dataset: %+v", r.Errors)
	}
	if r := srv.do(bob, add, map[string]any{"chat": chatID, "ids": []string{bobs}}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob adding to alice's chat: %+v", r.Errors)
	}
	var out struct {
		AddDatasetsToChat struct{ Datasets struct{ TotalCount int } }
	}
	srv.must(alice, add, map[string]any{"chat": chatID, "ids": []string{second, first}}, &out)
	if out.AddDatasetsToChat.Datasets.TotalCount != 2 {
		t.Fatalf("the chat has %d datasets, want 2", out.AddDatasetsToChat.Datasets.TotalCount)
	}
	runID := execute(t, srv, alice, chatID, "print(df.shape, second.shape)")
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "(1, 2) (3, 1)\n" {
		t.Fatalf("events: %+v", evs)
	}
}
