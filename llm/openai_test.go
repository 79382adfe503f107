package llm_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

const testKey = "sk-test-SECRET-0123456789abcdef"

// newOpenAI returns a provider on srv with fast retries.
func newOpenAI(t *testing.T, srv *llmtest.Server, edit ...func(*llm.OpenAIConfig)) llm.Provider {
	t.Helper()
	cfg := llm.OpenAIConfig{
		APIKey:       testKey,
		BaseURL:      srv.BaseURL(),
		DefaultModel: "gpt-4o-mini",
		Timeout:      5 * time.Second,
		BaseBackoff:  5 * time.Millisecond,
		MaxBackoff:   20 * time.Millisecond,
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := llm.NewOpenAI(cfg)
	if err != nil {
		t.Fatalf("NewOpenAI: %v", err)
	}
	return p
}

func userRequest(content string) llm.Request {
	return llm.Request{Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a data analyst."},
		{Role: llm.RoleUser, Content: content},
	}}
}

// collector gathers streamed chunks.
type collector struct {
	mu     sync.Mutex
	chunks []string
}

func (c *collector) add(s string) { c.mu.Lock(); c.chunks = append(c.chunks, s); c.mu.Unlock() }
func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.chunks)
}

func TestOpenAIGenerate(t *testing.T) {
	const answer = "The mean price is 42.5 dollars."
	// Prompt words: "You are a data analyst." (5) + "What is the mean price?" (5).
	const promptWords, answerWords = 10, 6

	tests := []struct {
		name       string
		stream     bool
		reply      llmtest.Reply
		wantIn     int
		wantOut    int
		estimated  bool
		wantChunks []string
	}{
		{name: "plain", reply: llmtest.Text(answer), wantIn: promptWords, wantOut: answerWords},
		{
			name: "streamed", stream: true, reply: llmtest.Text(answer), wantIn: promptWords, wantOut: answerWords,
			wantChunks: []string{"The ", "mean ", "price ", "is ", "42.5 ", "dollars."},
		},
		{
			name: "streamed explicit chunks and usage", stream: true,
			reply:  llmtest.Reply{Chunks: []string{"The mean", " price is 42.5", " dollars."}, PromptTokens: 123, CompletionTokens: 17},
			wantIn: 123, wantOut: 17,
			wantChunks: []string{"The mean", " price is 42.5", " dollars."},
		},
		{
			name: "provider-reported counts", reply: llmtest.Reply{Content: answer, PromptTokens: 1000, CompletionTokens: 250},
			wantIn: 1000, wantOut: 250,
		},
		{
			name: "no usage reported is estimated", stream: true, reply: llmtest.Reply{Content: answer, OmitUsage: true},
			wantIn: -1, wantOut: -1, estimated: true,
			wantChunks: []string{"The ", "mean ", "price ", "is ", "42.5 ", "dollars."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(tc.reply).Handle)
			p := newOpenAI(t, srv)
			req := userRequest("What is the mean price?")
			req.Temperature = 0.2
			req.MaxTokens = 500
			var got collector
			if tc.stream {
				req.OnToken = got.add
			}
			resp, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.Content != answer {
				t.Errorf("Content = %q, want %q", resp.Content, answer)
			}
			u := resp.Usage
			if tc.wantIn >= 0 && (u.InputTokens != tc.wantIn || u.OutputTokens != tc.wantOut) {
				t.Errorf("usage = %d/%d, want %d/%d", u.InputTokens, u.OutputTokens, tc.wantIn, tc.wantOut)
			}
			if u.Estimated != tc.estimated {
				t.Errorf("Estimated = %v, want %v", u.Estimated, tc.estimated)
			}
			if tc.estimated && (u.InputTokens == 0 || u.OutputTokens == 0) {
				t.Errorf("estimated usage is empty: %+v", u)
			}
			if u.Provider != "openai" || u.Model != "gpt-4o-mini" || u.Streamed != tc.stream || u.Duration <= 0 {
				t.Errorf("usage = %+v", u)
			}
			if tc.stream {
				if chunks := got.get(); !slices.Equal(chunks, tc.wantChunks) {
					t.Errorf("chunks = %q, want %q", chunks, tc.wantChunks)
				}
			}

			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Model != "gpt-4o-mini" || r.Stream != tc.stream || r.IncludeUsage != tc.stream {
				t.Errorf("request model=%q stream=%v include_usage=%v", r.Model, r.Stream, r.IncludeUsage)
			}
			if r.Temperature == nil || *r.Temperature != 0.2 || r.MaxTokens != 500 {
				t.Errorf("request temperature=%v max_tokens=%d", r.Temperature, r.MaxTokens)
			}
			if r.Authorization != "Bearer "+testKey {
				t.Errorf("Authorization = %q", r.Authorization)
			}
			if len(r.Messages) != 2 || r.Messages[0].Role != "system" || r.LastUserMessage() != "What is the mean price?" {
				t.Errorf("messages = %+v", r.Messages)
			}
		})
	}
}

func TestOpenAIRetries(t *testing.T) {
	tests := []struct {
		name         string
		replies      []llmtest.Reply
		stream       bool
		maxAttempts  int
		wantRequests int
		wantErr      error // nil: success
		wantStatus   int
		minElapsed   time.Duration
	}{
		{
			name:         "429 with Retry-After 1 then success",
			replies:      []llmtest.Reply{llmtest.RateLimited("1"), llmtest.Text("ok")},
			wantRequests: 2, minElapsed: 900 * time.Millisecond,
		},
		{
			name:         "429 with retry-after-ms then success",
			replies:      []llmtest.Reply{{Status: 429, RetryAfterMS: "30"}, llmtest.Text("ok")},
			wantRequests: 2, minElapsed: 25 * time.Millisecond,
		},
		{
			name:         "429 without Retry-After backs off",
			replies:      []llmtest.Reply{llmtest.RateLimited(""), llmtest.Text("ok")},
			wantRequests: 2,
		},
		{
			name:         "500 twice then success",
			replies:      []llmtest.Reply{llmtest.ServerError(), llmtest.Error(503, "overloaded"), llmtest.Text("ok")},
			wantRequests: 3,
		},
		{
			name:         "streamed 502 then success",
			replies:      []llmtest.Reply{llmtest.Error(502, "bad gateway"), llmtest.Text("ok")},
			stream:       true,
			wantRequests: 2,
		},
		{
			name:         "500 until attempts run out",
			replies:      []llmtest.Reply{llmtest.ServerError(), llmtest.ServerError(), llmtest.ServerError(), llmtest.Text("never")},
			wantRequests: 3, wantErr: llm.ErrProviderUnavailable, wantStatus: 500,
		},
		{
			name:         "MaxAttempts 1 does not retry",
			replies:      []llmtest.Reply{llmtest.RateLimited(""), llmtest.Text("never")},
			maxAttempts:  1,
			wantRequests: 1, wantErr: llm.ErrRateLimited, wantStatus: 429,
		},
		{
			name:         "Retry-After beyond MaxRetryAfter fails at once",
			replies:      []llmtest.Reply{llmtest.RateLimited("120"), llmtest.Text("never")},
			wantRequests: 1, wantErr: llm.ErrRateLimited, wantStatus: 429,
		},
		{
			name:         "400 is not retried",
			replies:      []llmtest.Reply{llmtest.Error(400, "Invalid value for 'temperature'"), llmtest.Text("never")},
			wantRequests: 1, wantStatus: 400,
		},
		{
			name:         "404 is not retried",
			replies:      []llmtest.Reply{llmtest.Error(404, "The model does not exist"), llmtest.Text("never")},
			stream:       true,
			wantRequests: 1, wantStatus: 404,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(tc.replies...).Handle)
			p := newOpenAI(t, srv, func(c *llm.OpenAIConfig) {
				c.MaxAttempts = tc.maxAttempts
				c.MaxRetryAfter = 5 * time.Second
			})
			req := userRequest("hello")
			var got collector
			if tc.stream {
				req.OnToken = got.add
			}
			start := time.Now()
			resp, err := p.Generate(context.Background(), req)
			elapsed := time.Since(start)
			if n := srv.Count(); n != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", n, tc.wantRequests)
			}
			if elapsed < tc.minElapsed {
				t.Errorf("returned after %v, want at least %v (Retry-After)", elapsed, tc.minElapsed)
			}
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if resp.Content != "ok" {
					t.Errorf("Content = %q", resp.Content)
				}
				if tc.stream && !slices.Equal(got.get(), []string{"ok"}) {
					t.Errorf("chunks = %q, want one delivery of \"ok\"", got.get())
				}
				return
			}
			var apiErr *llm.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *llm.APIError", err, err)
			}
			if apiErr.StatusCode != tc.wantStatus || apiErr.Attempts != tc.wantRequests {
				t.Errorf("APIError status=%d attempts=%d, want %d/%d", apiErr.StatusCode, apiErr.Attempts, tc.wantStatus, tc.wantRequests)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantErr)
			}
			if apiErr.Message == "" {
				t.Errorf("error has no provider message: %v", err)
			}
			if resp != nil {
				t.Errorf("response = %+v, want nil (no tokens spent)", resp)
			}
		})
	}
}

func TestOpenAITimeout(t *testing.T) {
	tests := []struct {
		name         string
		replies      []llmtest.Reply
		stream       bool
		wantRequests int
		wantErr      bool
		wantPartial  string
	}{
		{
			name:         "slow attempt is retried",
			replies:      []llmtest.Reply{{Content: "late", Delay: 5 * time.Second}, llmtest.Text("ok")},
			wantRequests: 2,
		},
		{
			name:         "slow streamed attempt before any chunk is retried",
			replies:      []llmtest.Reply{{Content: "late", Delay: 5 * time.Second}, llmtest.Text("ok")},
			stream:       true,
			wantRequests: 2,
		},
		{
			name: "every attempt times out",
			replies: []llmtest.Reply{
				{Content: "late", Delay: 5 * time.Second}, {Content: "late", Delay: 5 * time.Second},
			},
			wantRequests: 2, wantErr: true,
		},
		{
			name:         "stream stalls after a chunk: not retried",
			replies:      []llmtest.Reply{{Content: "first second third", ChunkDelay: 5 * time.Second}, llmtest.Text("never")},
			stream:       true,
			wantRequests: 1, wantErr: true, wantPartial: "first ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, llmtest.NewScript(tc.replies...).Handle)
			p := newOpenAI(t, srv, func(c *llm.OpenAIConfig) {
				c.Timeout = 150 * time.Millisecond
				c.MaxAttempts = 2
			})
			req := userRequest("hello")
			var got collector
			if tc.stream {
				req.OnToken = got.add
			}
			start := time.Now()
			resp, err := p.Generate(context.Background(), req)
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v: the timeout was not applied", elapsed)
			}
			if n := srv.Count(); n != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", n, tc.wantRequests)
			}
			if !tc.wantErr {
				if err != nil || resp.Content != "ok" {
					t.Fatalf("Generate = %+v, %v", resp, err)
				}
				return
			}
			if !errors.Is(err, llm.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
			if tc.wantPartial == "" {
				if resp != nil {
					t.Errorf("response = %+v, want nil", resp)
				}
				return
			}
			var apiErr *llm.APIError
			if !errors.As(err, &apiErr) || !apiErr.Partial {
				t.Errorf("err = %#v, want a partial APIError", err)
			}
			if resp == nil || resp.Content != tc.wantPartial || !resp.Usage.Estimated || resp.Usage.OutputTokens == 0 {
				t.Fatalf("partial response = %+v", resp)
			}
			if !slices.Equal(got.get(), []string{tc.wantPartial}) {
				t.Errorf("chunks = %q", got.get())
			}
		})
	}
}

func TestOpenAICallerContext(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply {
		return llmtest.Reply{Content: "late", Delay: 5 * time.Second}
	})
	p := newOpenAI(t, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Generate(ctx, userRequest("hello"))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, llm.ErrTimeout) {
		t.Errorf("deadline: err = %v", err)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("server saw %d requests after the caller's deadline, want 1", n)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = p.Generate(ctx, userRequest("hello"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: err = %v", err)
	}
}

func TestOpenAISecretNeverInErrors(t *testing.T) {
	echoKey := func(r llmtest.ChatRequest) llmtest.Reply {
		// Like OpenAI's 401, which echoes (part of) the key it was given.
		return llmtest.Error(401, "Incorrect API key provided: "+r.APIKey()+" ("+r.Authorization+")")
	}
	tests := []struct {
		name    string
		handler func(llmtest.ChatRequest) llmtest.Reply
		stream  bool
	}{
		{name: "401 echoing the key", handler: echoKey},
		{name: "401 echoing the key, streamed", handler: echoKey, stream: true},
		{name: "500 echoing the key", handler: func(r llmtest.ChatRequest) llmtest.Reply {
			return llmtest.Error(500, "upstream said: Bearer "+r.APIKey())
		}},
		{name: "429 with key", handler: func(r llmtest.ChatRequest) llmtest.Reply {
			return llmtest.Error(429, "slow down "+r.APIKey())
		}},
		{name: "timeout", handler: func(llmtest.ChatRequest) llmtest.Reply {
			return llmtest.Reply{Content: "late", Delay: 5 * time.Second}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, tc.handler)
			p := newOpenAI(t, srv, func(c *llm.OpenAIConfig) {
				c.Timeout = 100 * time.Millisecond
				c.MaxAttempts = 2
			})
			req := userRequest("hello")
			if tc.stream {
				req.OnToken = func(string) {}
			}
			_, err := p.Generate(context.Background(), req)
			if err == nil {
				t.Fatal("Generate succeeded")
			}
			for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(form, testKey) || strings.Contains(form, "SECRET") {
					t.Errorf("error leaks the key: %s", form)
				}
			}
		})
	}

	// A closed server: the transport error must not leak it either.
	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript().Handle)
	p := newOpenAI(t, srv)
	srv.Close()
	_, err := p.Generate(context.Background(), userRequest("hello"))
	if err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("closed server: err = %v", err)
	}
}

func TestOpenAISafeguardsAndModelNames(t *testing.T) {
	tests := []struct {
		name        string
		model       string
		temperature float64
		maxTokens   int
		wantModel   string   // as sent to the API
		wantTemp    *float64 // nil: omitted
		wantMax     int
	}{
		{name: "temperature clamped, max tokens capped", model: "gpt-4o", temperature: 1.7, maxTokens: 50_000, wantModel: "gpt-4o", wantTemp: ptr(1.0), wantMax: 4096},
		{name: "negative temperature", model: "gpt-4o-mini", temperature: -3, maxTokens: 100, wantModel: "gpt-4o-mini", wantTemp: ptr(0.0), wantMax: 100},
		{name: "gpt-5 family: temperature omitted by langchaingo, 16k cap", model: "gpt-5-mini", temperature: 0.1, maxTokens: 200_000, wantModel: "gpt-5-mini", wantMax: 16_000},
		{name: "groq registry name mapped to API name, reasoning temperature", model: "gpt-oss-20b", temperature: 0.3, maxTokens: 100_000, wantModel: "openai/gpt-oss-20b", wantTemp: ptr(1.0), wantMax: 32_768},
		{name: "unknown model passes through", model: "llama3.2", temperature: 0.5, wantModel: "llama3.2", wantTemp: ptr(0.5)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewOpenAIServer(t, func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Text("ok") })
			p := newOpenAI(t, srv)
			req := userRequest("hello")
			req.Model, req.Temperature, req.MaxTokens = tc.model, tc.temperature, tc.maxTokens
			resp, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Usage.Model != tc.model {
				t.Errorf("Usage.Model = %q, want the registry name %q", resp.Usage.Model, tc.model)
			}
			r := srv.LastRequest()
			if r.Model != tc.wantModel || r.MaxTokens != tc.wantMax {
				t.Errorf("sent model=%q max=%d, want %q/%d", r.Model, r.MaxTokens, tc.wantModel, tc.wantMax)
			}
			switch {
			case tc.wantTemp == nil && r.Temperature != nil:
				t.Errorf("temperature %v sent, want omitted", *r.Temperature)
			case tc.wantTemp != nil && (r.Temperature == nil || *r.Temperature != *tc.wantTemp):
				t.Errorf("temperature = %v, want %v", r.Temperature, *tc.wantTemp)
			}
		})
	}
}

func TestNewOpenAIConfig(t *testing.T) {
	if _, err := llm.NewOpenAI(llm.OpenAIConfig{}); !errors.Is(err, llm.ErrNotConfigured) {
		t.Errorf("no key: err = %v, want ErrNotConfigured", err)
	}
	if _, err := llm.NewOpenAI(llm.OpenAIConfig{APIKey: testKey, BaseURL: "not a url"}); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("bad URL: err = %v", err)
	}
	p, err := llm.NewOpenAI(llm.OpenAIConfig{APIKey: testKey, Name: "groq", BaseURL: "https://api.groq.com/openai/v1"})
	if err != nil || p.Name() != "groq" {
		t.Errorf("groq: %v, %v", p, err)
	}
	srv := llmtest.NewOpenAIServer(t, llmtest.NewScript().Handle)
	p = newOpenAI(t, srv)
	if _, err := p.Generate(context.Background(), llm.Request{}); err == nil {
		t.Error("a request without messages succeeded")
	}
	if srv.Count() != 0 {
		t.Error("a request without messages reached the server")
	}
}

func TestOpenAIConcurrent(t *testing.T) {
	srv := llmtest.NewOpenAIServer(t, func(r llmtest.ChatRequest) llmtest.Reply {
		return llmtest.Text("echo " + r.LastUserMessage())
	})
	p := newOpenAI(t, srv)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			req := userRequest(fmt.Sprint("q", i))
			if i%2 == 0 {
				req.OnToken = func(string) {}
			}
			resp, err := p.Generate(context.Background(), req)
			if err != nil || resp.Content != fmt.Sprint("echo q", i) {
				t.Errorf("call %d: %+v, %v", i, resp, err)
			}
		})
	}
	wg.Wait()
	if srv.Count() != 16 {
		t.Errorf("server saw %d requests", srv.Count())
	}
}

func ptr[T any](v T) *T { return &v }
