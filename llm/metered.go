package llm

import (
	"context"
	"time"
	"unicode/utf8"
)

// RecordFunc receives the usage of one model call; err is the call's error
// (nil on success).
type RecordFunc func(ctx context.Context, u Usage, err error)

// Metered wraps p so that record is called exactly once for every call that
// spent tokens: every successful call, and every failed call whose Response
// still reports tokens (a stream that broke off). A failed call that
// reported no tokens (a 400, a refused connection) is not recorded. Before
// recording, Usage.CostUSD is filled from reg (0 for an unknown model or a
// nil reg), Usage.Provider and Usage.Model default to p.Name() and the
// request's model, and Usage.Duration to the measured time. The caller
// receives the same Usage (with the cost) in the Response.
//
// record runs synchronously on the caller's goroutine with the caller's
// context (which carries whatever identifies the user or run); it should be
// quick or hand off to its own goroutine.
func Metered(p Provider, reg *Registry, record func(ctx context.Context, u Usage, err error)) Provider {
	return &metered{p: p, reg: reg, record: record}
}

type metered struct {
	p      Provider
	reg    *Registry
	record func(ctx context.Context, u Usage, err error)
}

func (m *metered) Name() string { return m.p.Name() }

func (m *metered) Generate(ctx context.Context, req Request) (*Response, error) {
	start := time.Now()
	resp, err := m.p.Generate(ctx, req)
	if resp == nil {
		return resp, err
	}
	u := &resp.Usage
	if err != nil && u.InputTokens == 0 && u.OutputTokens == 0 {
		return resp, err
	}
	if u.Provider == "" {
		u.Provider = m.p.Name()
	}
	if u.Model == "" {
		u.Model = req.Model
	}
	if u.Duration == 0 {
		u.Duration = time.Since(start)
	}
	if req.OnToken != nil {
		u.Streamed = true
	}
	u.QueryChars, u.ResponseChars = 0, utf8.RuneCountInString(resp.Content)
	for _, msg := range req.Messages {
		u.QueryChars += utf8.RuneCountInString(msg.Content)
	}
	if m.reg != nil {
		if _, known := m.reg.Lookup(u.Model); known {
			u.CostUSD = m.reg.Cost(u.Model, u.InputTokens, u.OutputTokens)
		}
	}
	if m.record != nil {
		m.record(ctx, *u, err)
	}
	return resp, err
}
