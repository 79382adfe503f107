package llm_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/autoanalyst/autoanalyst/llm"
)

type record struct {
	u   llm.Usage
	err error
	ctx context.Context
}

type recorder struct {
	mu   sync.Mutex
	recs []record
}

func (r *recorder) record(ctx context.Context, u llm.Usage, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, record{u: u, err: err, ctx: ctx})
}

func (r *recorder) all() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.recs...)
}

type ctxKey struct{}

func TestMetered(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		reply      llm.ScriptedReply
		model      string
		stream     bool
		wantErr    bool
		wantRecord bool
		wantCost   float64
	}{
		{
			name:  "success with cost",
			reply: llm.ScriptedReply{Content: "hi", InputTokens: 2000, OutputTokens: 1000},
			model: "claude-sonnet-4-6", wantRecord: true, wantCost: 2*0.003 + 1*0.015,
		},
		{
			name:  "streamed success",
			reply: llm.ScriptedReply{Content: "one two three", InputTokens: 1000, OutputTokens: 3},
			model: "gpt-5-nano", stream: true, wantRecord: true, wantCost: 0.00005 + 0.003*0.0004,
		},
		{
			name:  "unknown model costs nothing",
			reply: llm.ScriptedReply{Content: "hi"},
			model: "mystery", wantRecord: true, wantCost: 0,
		},
		{
			name:  "failure before any token is not recorded",
			reply: llm.ScriptedReply{Err: boom},
			model: "gpt-4o", wantErr: true, wantRecord: false,
		},
		{
			name:  "failure after tokens is recorded with the error",
			reply: llm.ScriptedReply{Content: "partial answer", Err: boom, InputTokens: 1000, OutputTokens: 2},
			model: "gpt-4o", stream: true, wantErr: true, wantRecord: true, wantCost: 0.0025 + 0.002*0.01,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := llm.NewScripted()
			s.PushReply(tc.reply)
			var rec recorder
			p := llm.Metered(s, llm.DefaultRegistry(), rec.record)
			if p.Name() != "scripted" {
				t.Errorf("Name() = %q", p.Name())
			}
			req := userRequest("question")
			req.Model = tc.model
			if tc.stream {
				req.OnToken = func(string) {}
			}
			ctx := context.WithValue(context.Background(), ctxKey{}, "run-1")
			resp, err := p.Generate(ctx, req)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			recs := rec.all()
			if !tc.wantRecord {
				if len(recs) != 0 {
					t.Fatalf("recorded %d times, want 0", len(recs))
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("recorded %d times, want 1", len(recs))
			}
			r := recs[0]
			if math.Abs(r.u.CostUSD-tc.wantCost) > 1e-12 {
				t.Errorf("CostUSD = %g, want %g", r.u.CostUSD, tc.wantCost)
			}
			if resp == nil || resp.Usage != r.u {
				t.Errorf("response usage %+v differs from the recorded %+v", resp, r.u)
			}
			if r.u.Provider != "scripted" || r.u.Model != tc.model || r.u.Streamed != tc.stream {
				t.Errorf("usage = %+v", r.u)
			}
			if !errors.Is(r.err, boom) != (tc.reply.Err == nil) {
				t.Errorf("recorded err = %v", r.err)
			}
			if r.ctx.Value(ctxKey{}) != "run-1" {
				t.Error("record did not get the caller's context")
			}
		})
	}
}

func TestMeteredConcurrent(t *testing.T) {
	s := llm.NewScriptedFunc(func(r llm.Request) (string, error) { return "answer", nil })
	var rec recorder
	p := llm.Metered(s, llm.DefaultRegistry(), rec.record)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := p.Generate(context.Background(), userRequest("q")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(rec.all()); n != 50 {
		t.Errorf("recorded %d times for 50 calls", n)
	}
}

func TestMeteredNilRegistryAndRecorder(t *testing.T) {
	p := llm.Metered(llm.NewScripted("ok"), nil, nil)
	resp, err := p.Generate(context.Background(), userRequest("q"))
	if err != nil || resp.Usage.CostUSD != 0 {
		t.Errorf("%+v, %v", resp, err)
	}
}
