package llm

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		headers map[string]string
		want    time.Duration
		ok      bool
	}{
		{map[string]string{"Retry-After": "1"}, time.Second, true},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond, true},
		{map[string]string{"retry-after-ms": "20"}, 20 * time.Millisecond, true},
		{map[string]string{"retry-after-ms": "20", "Retry-After": "1"}, 20 * time.Millisecond, true},
		{map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}, 3 * time.Second, true},
		{map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, 0, true},
		{map[string]string{"Retry-After": "soon"}, 0, false},
		{map[string]string{"Retry-After": "-1"}, 0, false},
		{nil, 0, false},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		got, ok := parseRetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%v) = %v, %v; want %v, %v", tc.headers, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	const key = "my-very-secret-key"
	tests := []struct{ in, notWant string }{
		{"bad key " + key + " given", key},
		{"Authorization: Bearer abc.def-ghi", "abc.def-ghi"},
		{"Incorrect API key provided: sk-proj-****************abcd", "sk-proj"},
		{"groq key gsk_ABCDEFGH12345", "gsk_ABCDEFGH12345"},
		{"google AIzaSyA-1234567890", "AIzaSyA"},
	}
	for _, tc := range tests {
		got := redact(tc.in, key)
		if strings.Contains(got, tc.notWant) || !strings.Contains(got, "[redacted]") {
			t.Errorf("redact(%q) = %q", tc.in, got)
		}
	}
	if got := redact("plain message", key); got != "plain message" {
		t.Errorf("redact changed a clean message: %q", got)
	}
}

func TestBackoff(t *testing.T) {
	p := &caller{policy: retryPolicy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 30: time.Second} {
		for range 20 {
			d := p.backoff(attempt)
			if d < want/2 || d > want {
				t.Errorf("backoff(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{"error":{"message":"Rate limit reached","type":"requests"}}`, "Rate limit reached"},
		{`{"error":"model not found"}`, "model not found"},
		{`{"message":"nope"}`, "nope"},
		{`upstream connect error`, "upstream connect error"},
		{``, "Bad Gateway"},
	}
	for _, tc := range tests {
		if got := errorMessage([]byte(tc.body), 502); got != tc.want {
			t.Errorf("errorMessage(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
