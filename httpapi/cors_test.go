package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	h := testHandler(t, Config{MaxUploadBytes: 1 << 20, CORSOrigins: []string{"https://app.example.com/"}})
	tests := []struct {
		name, method, origin string
		preflight            bool
		wantAllow            string // Access-Control-Allow-Origin
		wantStatus           int
	}{
		{"preflight from an allowed origin", "OPTIONS", "https://app.example.com", true, "https://app.example.com", http.StatusNoContent},
		{"preflight from another origin", "OPTIONS", "https://evil.example", true, "", http.StatusNoContent},
		{"post from an allowed origin", "POST", "https://app.example.com", false, "https://app.example.com", http.StatusOK},
		{"post from another origin", "POST", "https://evil.example", false, "", http.StatusOK},
		{"post without an origin", "POST", "", false, "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			req.Header.Set("Content-Type", "application/json")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.preflight {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantAllow)
			}
			if tt.preflight && tt.wantAllow != "" {
				hdrs := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
				if !strings.Contains(hdrs, "authorization") || !strings.Contains(hdrs, "content-type") {
					t.Errorf("Access-Control-Allow-Headers %q lacks authorization or content-type", hdrs)
				}
			}
		})
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "ftp://x"} {
		if _, err := parseOrigins([]string{bad}); err == nil {
			t.Errorf("parseOrigins(%q) accepted it", bad)
		}
	}
}
