package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

const (
	updateSettings = `mutation($in: UpdateModelSettingsInput!) { updateModelSettings(input: $in) { provider model temperature maxTokens hasCustomKey } }`
	rateMutation   = `mutation($in: RateMessageInput!) { rateMessage(input: $in) { id rating comment modelName modelProvider temperature maxTokens } }`
	aliceKey       = "sk-alice-own-key-0001"
)

type settingsOut struct {
	Provider, Model string
	Temperature     float64
	MaxTokens       *int
	HasCustomKey    bool
}

// askQA sends a question to basic_qa_agent and returns the answer's message id.
func askQA(ctx context.Context, t *testing.T, s *server, token string) (chatID, answerID string) {
	t.Helper()
	var c struct{ CreateChat struct{ ID string } }
	s.must(token, createChatMutation, map[string]any{"ids": []string{}}, &c)
	var sent struct{ SendMessage struct{ ID string } }
	s.must(token, sendMutation, map[string]any{"chat": c.CreateChat.ID, "content": "@basic_qa_agent what is a median?"}, &sent)
	evs, gerr, err := s.subscribe(ctx, "graphql-transport-ws", authInit(token), sent.SendMessage.ID, 0, nil)
	m := find(evs, "MESSAGE")
	if err != nil || gerr != nil || m == nil || find(evs, "RUN_SUCCEEDED") == nil {
		t.Fatalf("chat turn: %v %+v %+v", err, gerr, evs)
	}
	return c.CreateChat.ID, m.MessageID
}

// TestModelSettingsAndFeedback stores a user's model settings (their own key
// encrypted), checks that their runs use them and another user's do not, and
// rates the answer, which records those settings.
func TestModelSettingsAndFeedback(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(housekeepingRule, llmtest.Rule{Contains: "You are basic_qa_agent",
		Reply: llmtest.Text("The median is the middle value.")}).Handle)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini",
		"SECRET_KEY": strings.Repeat("0123456789abcdef", 4),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()

	var v struct {
		Viewer struct{ ModelSettings *settingsOut }
	}
	srv.must(alice, `{ viewer { modelSettings { provider } } }`, nil, &v)
	if v.Viewer.ModelSettings != nil {
		t.Fatalf("a new user has settings: %+v", v.Viewer.ModelSettings)
	}
	wantCode(t, srv.do(alice, updateSettings, map[string]any{"in": map[string]any{"provider": "ACME", "model": "gpt-4o"}}), "BAD_USER_INPUT", "")
	wantCode(t, srv.do(alice, updateSettings, map[string]any{"in": map[string]any{"provider": "OPENAI", "model": "claude-opus-4-6"}}), "BAD_USER_INPUT", "model")
	wantCode(t, srv.do(alice, updateSettings, map[string]any{"in": map[string]any{"provider": "OPENAI", "model": "gpt-4o", "maxTokens": -5}}), "BAD_USER_INPUT", "maxTokens")
	r := srv.do(alice, updateSettings, map[string]any{"in": map[string]any{
		"provider": "OPENAI", "model": "gpt-4o", "temperature": 0.5, "maxTokens": 100000, "apiKey": aliceKey}})
	if len(r.Errors) > 0 || strings.Contains(string(r.Data), aliceKey) {
		t.Fatalf("updateModelSettings: %s %+v", r.Data, r.Errors)
	}
	srv.must(alice, `{ viewer { modelSettings { provider model temperature maxTokens hasCustomKey } } }`, nil, &v)
	if st := v.Viewer.ModelSettings; st == nil || st.Model != "gpt-4o" || st.Temperature != 0.5 || st.MaxTokens == nil ||
		*st.MaxTokens != 4096 || !st.HasCustomKey || st.Provider != "OPENAI" {
		t.Fatalf("settings: %+v", st)
	}

	// Alice's run calls her model with her key; Bob's the server's default.
	chatID, answer := askQA(ctx, t, srv, alice)
	req := llmSrv.LastRequest()
	if req.APIKey() != aliceKey || req.Model != "gpt-4o" || req.Temperature == nil || *req.Temperature != 0.5 || req.MaxTokens != 4096 {
		t.Fatalf("alice's LLM request: key %q model %s temperature %v max tokens %d", req.APIKey(), req.Model, req.Temperature, req.MaxTokens)
	}
	askQA(ctx, t, srv, bob)
	if req := llmSrv.LastRequest(); req.APIKey() != llmKey || req.Model != "gpt-5-mini" {
		t.Fatalf("bob's LLM request: key %q model %s", req.APIKey(), req.Model)
	}
	if strings.Contains(srv.logs.String(), aliceKey) {
		t.Fatal("the user's API key is in the server's logs")
	}

	// Feedback records the settings the answer was made with; rating again replaces it.
	type fb struct {
		ID, Comment, ModelName, ModelProvider string
		Rating, MaxTokens                     int
		Temperature                           float64
	}
	var rated struct{ RateMessage fb }
	srv.must(alice, rateMutation, map[string]any{"in": map[string]any{"messageID": answer, "rating": 4, "comment": "clear"}}, &rated)
	if f := rated.RateMessage; f.Rating != 4 || f.Comment != "clear" || f.ModelName != "gpt-4o" || f.ModelProvider != "OPENAI" ||
		f.Temperature != 0.5 || f.MaxTokens != 4096 {
		t.Fatalf("rateMessage: %+v", f)
	}
	first := rated.RateMessage.ID
	srv.must(alice, rateMutation, map[string]any{"in": map[string]any{"messageID": answer, "rating": 2}}, &rated)
	if rated.RateMessage.ID != first || rated.RateMessage.Rating != 2 || rated.RateMessage.Comment != "" {
		t.Fatalf("second rating: %+v (first %s)", rated.RateMessage, first)
	}
	var msgs struct {
		Node struct {
			Messages struct {
				Edges []struct {
					Node struct {
						ID, Sender string
						Feedback   *struct{ Rating int }
					}
				}
			}
		}
	}
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { messages { edges { node { id sender feedback { rating } } } } } } }`,
		map[string]any{"id": chatID}, &msgs)
	question := ""
	for _, e := range msgs.Node.Messages.Edges {
		switch e.Node.Sender {
		case "AI":
			if e.Node.Feedback == nil || e.Node.Feedback.Rating != 2 {
				t.Fatalf("answer's feedback: %+v", e.Node.Feedback)
			}
		case "USER":
			question = e.Node.ID
		}
	}
	for _, bad := range []int{0, 6} {
		wantCode(t, srv.do(alice, rateMutation, map[string]any{"in": map[string]any{"messageID": answer, "rating": bad}}), "BAD_USER_INPUT", "rating")
	}
	wantCode(t, srv.do(alice, rateMutation, map[string]any{"in": map[string]any{"messageID": question, "rating": 5}}), "BAD_USER_INPUT", "messageID")
	wantCode(t, srv.do(bob, rateMutation, map[string]any{"in": map[string]any{"messageID": answer, "rating": 5}}), "NOT_FOUND", "messageID")
	wantCode(t, srv.do(bob, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": first}), "NOT_FOUND", "")

	// Removing the key: runs go back to the server's key, with her model.
	srv.must(alice, updateSettings, map[string]any{"in": map[string]any{"provider": "OPENAI", "model": "gpt-4o", "apiKey": ""}}, &struct{}{})
	askQA(ctx, t, srv, alice)
	if req := llmSrv.LastRequest(); req.APIKey() != llmKey || req.Model != "gpt-4o" || req.MaxTokens != 4096 {
		t.Fatalf("after removing the key: key %q model %s max tokens %d", req.APIKey(), req.Model, req.MaxTokens)
	}
}

// TestModelSettingsWithoutSecret: a server without SECRET_KEY refuses to
// store a key, and says why; settings without a key still work.
func TestModelSettingsWithoutSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	tok := srv.session()
	r := srv.do(tok, updateSettings, map[string]any{"in": map[string]any{"provider": "ANTHROPIC", "model": "claude-haiku-4-5", "apiKey": "sk-ant"}})
	wantCode(t, r, "UNAVAILABLE", "apiKey")
	if !strings.Contains(r.Errors[0].Message, "SECRET_KEY") {
		t.Fatalf("message: %s", r.Errors[0].Message)
	}
	var out struct{ UpdateModelSettings settingsOut }
	srv.must(tok, updateSettings, map[string]any{"in": map[string]any{"provider": "ANTHROPIC", "model": "claude-haiku-4-5", "temperature": 3}}, &out)
	if st := out.UpdateModelSettings; st.Temperature != 1 || st.HasCustomKey || st.MaxTokens != nil {
		t.Fatalf("settings: %+v", st)
	}
	// A SECRET_KEY too short to be one is refused at start-up.
	cmd := exec.Command(buildBinary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir(), "SECRET_KEY=too short", fmt.Sprintf("PORT=%d", freePort(t))}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "SECRET_KEY must be at least") {
		t.Fatalf("short SECRET_KEY: %v %s", err, out)
	}
}
