package llmtest_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServerJSON(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(llmtest.Text("two words")).Handle)
	resp := post(t, srv.URL+"/chat/completions", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a b c"}]}],"temperature":0.5,"max_tokens":9}`)
	var body struct {
		Choices []struct {
			Message struct{ Role, Content string }
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Choices[0].Message.Content != "two words" || body.Usage.PromptTokens != 3 || body.Usage.CompletionTokens != 2 || body.Usage.TotalTokens != 5 {
		t.Errorf("body = %+v", body)
	}
	r := srv.LastRequest()
	if r.Path != "/chat/completions" || r.Model != "m" || r.LastMessage() != "a b c" || *r.Temperature != 0.5 || r.MaxTokens != 9 || r.APIKey() != "k" {
		t.Errorf("recorded %+v", r)
	}
}

func TestServerSSE(t *testing.T) {
	for _, includeUsage := range []bool{true, false} {
		srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(llmtest.Text("hello big world")).Handle)
		body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if includeUsage {
			body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		}
		resp := post(t, srv.BaseURL()+"/chat/completions", body)
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("Content-Type = %q", ct)
		}
		var content strings.Builder
		var lines []string
		var usageChunks, nullUsage int
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				continue
			}
			lines = append(lines, line)
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				t.Fatalf("line %q", line)
			}
			if data == "[DONE]" {
				continue
			}
			var chunk map[string]json.RawMessage
			if err := json.Unmarshal([]byte(data), &chunk); err != nil {
				t.Fatal(err)
			}
			var choices []struct {
				Delta struct{ Content string }
			}
			_ = json.Unmarshal(chunk["choices"], &choices)
			for _, c := range choices {
				content.WriteString(c.Delta.Content)
			}
			if u, ok := chunk["usage"]; ok {
				if string(u) == "null" {
					nullUsage++
				} else {
					usageChunks++
					if len(choices) != 0 || !strings.Contains(string(u), `"completion_tokens":3`) {
						t.Errorf("usage chunk %s", data)
					}
				}
			}
		}
		if content.String() != "hello big world" {
			t.Errorf("content %q", content.String())
		}
		if lines[len(lines)-1] != "data: [DONE]" {
			t.Errorf("last line %q", lines[len(lines)-1])
		}
		wantUsage := 0
		if includeUsage {
			wantUsage = 1
		}
		if usageChunks != wantUsage || (includeUsage && nullUsage == 0) || (!includeUsage && nullUsage != 0) {
			t.Errorf("include_usage=%v: %d usage chunks, %d null usages", includeUsage, usageChunks, nullUsage)
		}
		if !srv.LastRequest().Stream || srv.LastRequest().IncludeUsage != includeUsage {
			t.Errorf("recorded %+v", srv.LastRequest())
		}
	}
}

func TestServerErrors(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(llmtest.RateLimited("1"), llmtest.ServerError()).Handle)
	resp := post(t, srv.URL+"/v1/chat/completions", `{"model":"m","messages":[]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var e struct {
		Error struct{ Message, Type string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if e.Error.Message == "" || e.Error.Type != "rate_limit_exceeded" {
		t.Errorf("error body %+v", e)
	}
	if resp := post(t, srv.URL+"/v1/chat/completions", `{}`); resp.StatusCode != 500 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if resp := post(t, srv.URL+"/v1/chat/completions", `{}`); resp.StatusCode != 500 {
		t.Errorf("exhausted script: status %d", resp.StatusCode)
	}
	if resp := post(t, srv.URL+"/v1/chat/completions", `not json`); resp.StatusCode != 400 {
		t.Errorf("bad JSON: status %d", resp.StatusCode)
	}
	if srv.Count() != 3 {
		t.Errorf("Count = %d", srv.Count())
	}
	srv.Reset()
	if srv.Count() != 0 {
		t.Error("Reset kept requests")
	}
}

func TestRouterAndScript(t *testing.T) {
	rt := llmtest.Route(
		llmtest.Rule{SystemContains: "planner", Reply: llmtest.Text("plan")},
		llmtest.Rule{Contains: "chart", Model: "gpt-4o", Reply: llmtest.Text("chart code")},
		llmtest.Rule{Match: func(r llmtest.ChatRequest) bool { return len(r.Messages) > 2 }, Respond: func(r llmtest.ChatRequest) llmtest.Reply {
			return llmtest.Text("long " + r.LastUserMessage())
		}},
	)
	tests := []struct {
		req  llmtest.ChatRequest
		want string
	}{
		{llmtest.ChatRequest{Messages: []llmtest.Message{{Role: "system", Content: "You are the planner"}, {Role: "user", Content: "x"}}}, "plan"},
		{llmtest.ChatRequest{Model: "gpt-4o", Messages: []llmtest.Message{{Role: "user", Content: "a chart please"}}}, "chart code"},
		{llmtest.ChatRequest{Model: "o3", Messages: []llmtest.Message{{Role: "user", Content: "a chart please"}}}, ""},
		{llmtest.ChatRequest{Messages: []llmtest.Message{{Role: "user", Content: "1"}, {Role: "assistant", Content: "2"}, {Role: "user", Content: "3"}}}, "long 3"},
	}
	for _, tc := range tests {
		got := rt.Handle(tc.req)
		if tc.want == "" {
			if got.Status != 500 {
				t.Errorf("unmatched request answered %+v", got)
			}
			continue
		}
		if got.Content != tc.want {
			t.Errorf("Handle = %q, want %q", got.Content, tc.want)
		}
	}
	rt.Default = llmtest.Text("default")
	if got := rt.Handle(llmtest.ChatRequest{}); got.Content != "default" {
		t.Errorf("default = %+v", got)
	}

	s := llmtest.NewScript(llmtest.Text("one"))
	s.PushText("two")
	s.SetFallback(func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Text("fallback") })
	for _, want := range []string{"one", "two", "fallback", "fallback"} {
		if got := s.Handle(llmtest.ChatRequest{}); got.Content != want {
			t.Errorf("script = %q, want %q", got.Content, want)
		}
	}
	if s.Remaining() != 0 {
		t.Errorf("Remaining = %d", s.Remaining())
	}
}
