package llm_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

func newAnthropic(t *testing.T, srv *llmtest.Server) llm.Provider {
	t.Helper()
	p, err := llm.NewAnthropic(llm.AnthropicConfig{
		APIKey:      testKey,
		BaseURL:     srv.BaseURL(),
		Timeout:     5 * time.Second,
		BaseBackoff: 5 * time.Millisecond,
		MaxBackoff:  20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewAnthropic: %v", err)
	}
	return p
}

// TestAnthropic runs langchaingo's Anthropic client against a local server
// that speaks the Messages protocol.
func TestAnthropic(t *testing.T) {
	ctx := context.Background()
	t.Run("a message, with the provider's usage", func(t *testing.T) {
		srv := llmtest.NewAnthropicServer(t, llmtest.NewScript(llmtest.Reply{Content: "The median is 42.", PromptTokens: 17, CompletionTokens: 5}).Handle)
		resp, err := newAnthropic(t, srv).Generate(ctx, llm.Request{Model: "claude-haiku-4-5", Temperature: 3, Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "You are a data analyst."},
			{Role: llm.RoleUser, Content: "What is the median?"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		u := resp.Usage
		if resp.Content != "The median is 42." || u.InputTokens != 17 || u.OutputTokens != 5 || u.Estimated || u.Provider != "anthropic" || u.Model != "claude-haiku-4-5" || u.CostUSD != 0 {
			t.Fatalf("response = %+v", resp)
		}
		req := srv.LastRequest()
		if req.System() != "You are a data analyst." || req.LastUserMessage() != "What is the median?" || req.APIKey() != testKey {
			t.Fatalf("request = %+v", req)
		}
		if req.MaxTokens <= 0 || req.Temperature == nil || *req.Temperature > 1 {
			t.Fatalf("max_tokens %d, temperature %v: the safeguards were not applied", req.MaxTokens, req.Temperature)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		srv := llmtest.NewAnthropicServer(t, llmtest.NewScript(llmtest.Text("one two three")).Handle)
		var got collector
		req := userRequest("count")
		req.OnToken = got.add
		resp, err := newAnthropic(t, srv).Generate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.get(), "") != "one two three" || len(got.get()) != 3 || resp.Content != "one two three" {
			t.Fatalf("chunks %q, content %q", got.get(), resp.Content)
		}
		if !resp.Usage.Streamed || resp.Usage.OutputTokens != 3 || resp.Usage.InputTokens != 6 || resp.Usage.Estimated {
			t.Fatalf("usage = %+v", resp.Usage)
		}
	})
	t.Run("429 then success", func(t *testing.T) {
		srv := llmtest.NewAnthropicServer(t, llmtest.NewScript(llmtest.RateLimited("0"), llmtest.Text("ok")).Handle)
		resp, err := newAnthropic(t, srv).Generate(ctx, userRequest("hi"))
		if err != nil || resp.Content != "ok" || srv.Count() != 2 {
			t.Fatalf("resp %+v, err %v, %d requests", resp, err, srv.Count())
		}
	})
	t.Run("overloaded (529) is retried", func(t *testing.T) {
		srv := llmtest.NewAnthropicServer(t, llmtest.NewScript(llmtest.Error(529, "Overloaded"), llmtest.Text("ok")).Handle)
		if resp, err := newAnthropic(t, srv).Generate(ctx, userRequest("hi")); err != nil || resp.Content != "ok" {
			t.Fatalf("resp %+v, err %v", resp, err)
		}
	})
	t.Run("400 is not retried and names no secret", func(t *testing.T) {
		srv := llmtest.NewAnthropicServer(t, llmtest.NewScript(llmtest.Error(http.StatusBadRequest, "messages: bad role (key "+testKey+")")).Handle)
		_, err := newAnthropic(t, srv).Generate(ctx, userRequest("hi"))
		var apiErr *llm.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Attempts != 1 || srv.Count() != 1 {
			t.Fatalf("err = %v (%d requests)", err, srv.Count())
		}
		if strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "bad role") {
			t.Fatalf("error %q: want the provider's message without the key", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		if _, err := llm.NewAnthropic(llm.AnthropicConfig{}); !errors.Is(err, llm.ErrNotConfigured) {
			t.Fatalf("err = %v", err)
		}
	})
}
