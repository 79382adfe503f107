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
)

func TestScripted(t *testing.T) {
	tests := []struct {
		name       string
		provider   func() *llm.Scripted
		stream     bool
		want       []string // contents of successive calls
		wantChunks []string // chunks of the first call
		wantErr    error
	}{
		{name: "queue in order", provider: func() *llm.Scripted { return llm.NewScripted("first", "second") }, want: []string{"first", "second"}},
		{
			name: "streams word by word", provider: func() *llm.Scripted { return llm.NewScripted("  a quick\nbrown  fox ") },
			stream: true, want: []string{"  a quick\nbrown  fox "}, wantChunks: []string{"  a ", "quick\n", "brown  ", "fox "},
		},
		{
			name: "func after the queue",
			provider: func() *llm.Scripted {
				s := llm.NewScriptedFunc(func(r llm.Request) (string, error) {
					return "echo: " + r.Messages[len(r.Messages)-1].Content, nil
				})
				s.Push("queued")
				return s
			},
			want: []string{"queued", "echo: question"},
		},
		{name: "exhausted", provider: func() *llm.Scripted { return llm.NewScripted() }, wantErr: llm.ErrScriptExhausted},
		{
			name: "func error",
			provider: func() *llm.Scripted {
				return llm.NewScriptedFunc(func(llm.Request) (string, error) { return "", errBoom })
			},
			wantErr: errBoom,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.provider()
			for i, want := range tc.want {
				var chunks []string
				req := userRequest("question")
				if tc.stream {
					req.OnToken = func(c string) { chunks = append(chunks, c) }
				}
				resp, err := s.Generate(context.Background(), req)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if resp.Content != want {
					t.Errorf("call %d: %q, want %q", i, resp.Content, want)
				}
				if i == 0 && tc.wantChunks != nil && !slices.Equal(chunks, tc.wantChunks) {
					t.Errorf("chunks = %q, want %q", chunks, tc.wantChunks)
				}
				if strings.Join(chunks, "") != strings.Repeat(want, min(len(chunks), 1)) {
					t.Errorf("chunks %q do not rebuild %q", chunks, want)
				}
				u := resp.Usage
				// "You are a data analyst." + "question" = 6 words.
				if u.InputTokens != 6 || u.OutputTokens != llm.WordCount(want) || u.Provider != "scripted" || u.Model != "scripted-model" || u.Streamed != tc.stream {
					t.Errorf("usage = %+v", u)
				}
			}
			if tc.wantErr != nil {
				resp, err := s.Generate(context.Background(), userRequest("question"))
				if !errors.Is(err, tc.wantErr) || resp != nil {
					t.Errorf("Generate = %+v, %v; want %v", resp, err, tc.wantErr)
				}
			}
			if s.Calls() != len(tc.want)+btoi(tc.wantErr != nil) {
				t.Errorf("Calls() = %d", s.Calls())
			}
		})
	}
}

var errBoom = errors.New("boom")

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestScriptedReplies(t *testing.T) {
	s := llm.NewScripted().WithName("fake").WithDefaultModel("fake-1")
	s.PushReply(
		llm.ScriptedReply{Content: "x", InputTokens: 100, OutputTokens: 7},
		llm.ScriptedReply{Content: "half done", Err: errBoom},
	)
	s.PushError(errBoom)
	if s.Remaining() != 3 || s.Name() != "fake" {
		t.Fatalf("Remaining=%d Name=%q", s.Remaining(), s.Name())
	}

	resp, err := s.Generate(context.Background(), llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil || resp.Usage.InputTokens != 100 || resp.Usage.OutputTokens != 7 || resp.Usage.Model != "gpt-4o" || resp.Usage.Provider != "fake" {
		t.Errorf("override counts: %+v, %v", resp, err)
	}

	var got []string
	resp, err = s.Generate(context.Background(), llm.Request{OnToken: func(c string) { got = append(got, c) }})
	if !errors.Is(err, errBoom) || resp == nil || resp.Content != "half done" || resp.Usage.OutputTokens != 2 || resp.Usage.Model != "fake-1" {
		t.Errorf("partial failure: %+v, %v", resp, err)
	}
	if strings.Join(got, "") != "half done" {
		t.Errorf("chunks before the failure = %q", got)
	}

	resp, err = s.Generate(context.Background(), llm.Request{})
	if !errors.Is(err, errBoom) || resp != nil {
		t.Errorf("immediate failure: %+v, %v", resp, err)
	}
}

func TestScriptedContext(t *testing.T) {
	s := llm.NewScripted()
	s.PushReply(llm.ScriptedReply{Content: "one two three four", ChunkDelay: 30 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var chunks []string
	resp, err := s.Generate(ctx, llm.Request{OnToken: func(c string) {
		chunks = append(chunks, c)
		if len(chunks) == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || resp == nil || resp.Content != "one two " || resp.Usage.OutputTokens != 2 {
		t.Errorf("cancelled mid-stream: %+v, %v", resp, err)
	}

	s.Push("never")
	if _, err := s.Generate(ctx, llm.Request{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
}

func TestScriptedConcurrent(t *testing.T) {
	s := llm.NewScripted()
	for i := range 100 {
		s.Push(fmt.Sprint("reply ", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range 100 {
		wg.Go(func() {
			req := userRequest(fmt.Sprint("q", i))
			req.OnToken = func(string) {}
			resp, err := s.Generate(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[resp.Content] = true
			mu.Unlock()
			_ = s.Requests()
		})
	}
	wg.Wait()
	if len(seen) != 100 || s.Calls() != 100 || s.Remaining() != 0 {
		t.Errorf("seen %d distinct replies, %d calls, %d left", len(seen), s.Calls(), s.Remaining())
	}
	reqs := s.Requests()
	reqs[0].Messages[0].Content = "mutated"
	if s.Requests()[0].Messages[0].Content == "mutated" {
		t.Error("Requests() exposes internal storage")
	}
}

func TestSplitWords(t *testing.T) {
	for _, s := range []string{"", " ", "a", "a b", "  lead", "trail  ", "x\n\ny\tz ", "héllo wörld"} {
		chunks := llm.SplitWords(s)
		if strings.Join(chunks, "") != s {
			t.Errorf("SplitWords(%q) = %q does not rebuild it", s, chunks)
		}
		if n := llm.WordCount(s); len(chunks) != n && !(n == 0 && len(chunks) <= 1) {
			t.Errorf("SplitWords(%q) = %d chunks for %d words", s, len(chunks), n)
		}
	}
}
