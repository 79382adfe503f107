package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// TestFixAndEditCode: fixCode repairs failing code until it runs (the first
// repair fails again, the second runs), editCode rewrites code from an
// instruction; both are runs followed over a WebSocket, with refusals.
func TestFixAndEditCode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	fixes := llmtest.NewScript(
		llmtest.Text("```python\nprint(df['prise'].mean())\n```\nUsed the price column."),
		llmtest.Text("```python\nprint(round(df['price'].mean()))\n```\nThe column is called price."),
	)
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		llmtest.Rule{Contains: "You fix Python", Respond: fixes.Handle},
		llmtest.Rule{Contains: "You edit Python", Reply: llmtest.Text("```python\nprint(df.columns.tolist())\nprint(len(df))\n```\nAlso prints the row count.")},
	).Handle)
	srv := startServer(t, map[string]string{"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)

	const fix = `mutation($in: FixCodeInput!) { fixCode(input: $in) { id kind status } }`
	var fixed struct {
		FixCode struct{ ID, Kind string } `json:"fixCode"`
	}
	srv.must(alice, fix, map[string]any{"in": map[string]any{"chatID": chatID, "code": "print(df['pryce'].mean())", "error": "KeyError: 'pryce'"}}, &fixed)
	if fixed.FixCode.Kind != "FIX_CODE" {
		t.Fatalf("run kind %q", fixed.FixCode.Kind)
	}
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), fixed.FixCode.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	checkSeqs(t, evs, 1)
	var codes []string
	var results []bool
	for _, e := range evs {
		switch e.Type {
		case "AGENT_CODE":
			codes = append(codes, e.Code)
		case "EXECUTION_RESULT":
			results = append(results, e.Result.OK)
		}
	}
	if len(codes) != 2 || codes[1] != "print(round(df['price'].mean()))" || len(results) != 2 || results[0] || !results[1] {
		t.Fatalf("repairs %q, results %v: want a failing repair, then one that runs", codes, results)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}

	const edit = `mutation($in: EditCodeInput!) { editCode(input: $in) { id kind } }`
	var edited struct {
		EditCode struct{ ID, Kind string } `json:"editCode"`
	}
	srv.must(alice, edit, map[string]any{"in": map[string]any{"chatID": chatID, "code": "print(df.columns.tolist())", "instruction": "also print the number of rows"}}, &edited)
	evs, gerr, err = srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), edited.EditCode.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	code := find(evs, "AGENT_CODE")
	if code == nil || code.Code != "print(df.columns.tolist())\nprint(len(df))" || find(evs, "EXECUTION_STARTED") != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
		t.Fatalf("editCode events %+v", evs)
	}
	if !strings.Contains(llmSrv.LastRequest().LastUserMessage(), "also print the number of rows") {
		t.Fatal("the instruction did not reach the model")
	}

	// Refusals: another user's chat, and input that names its field.
	bob := srv.session()
	if r := srv.do(bob, edit, map[string]any{"in": map[string]any{"chatID": chatID, "code": "x", "instruction": "y"}}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob edits in alice's chat: %+v", r.Errors)
	}
	if r := srv.do(alice, edit, map[string]any{"in": map[string]any{"chatID": chatID, "code": "x", "instruction": "  "}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "instruction" {
		t.Fatalf("empty instruction: %+v", r.Errors)
	}
	if r := srv.do(alice, fix, map[string]any{"in": map[string]any{"chatID": chatID, "code": "", "error": "e"}}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "code" {
		t.Fatalf("empty code: %+v", r.Errors)
	}
	// Each model call is a usage row: two repairs and one edit.
	var usage struct {
		Viewer struct{ Usage struct{ Calls int } }
	}
	srv.must(alice, `{ viewer { usage(period: P7D) { calls } } }`, nil, &usage)
	if usage.Viewer.Usage.Calls != 3 {
		t.Fatalf("%d usage rows, want 3", usage.Viewer.Usage.Calls)
	}
}
