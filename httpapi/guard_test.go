package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
)

func TestRateLimiter(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := newRateLimiter(0.001, 3, nil).middleware(ok)
	send := func(user, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/graphql", nil)
		req.RemoteAddr = addr
		if user != "" {
			req = req.WithContext(viewer.NewContext(req.Context(), &viewer.Viewer{UserID: user}))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range 3 {
		if rec := send("usr_a", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	// The same user from another address is still limited.
	rec := send("usr_a", "10.0.0.2:1000")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v", rec.Code, rec.Header())
	}
	var body struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Errors[0].Extensions["code"] != "RATE_LIMITED" {
		t.Fatalf("body = %s", rec.Body)
	}
	// Another user and an anonymous address have their own buckets.
	if rec := send("usr_b", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("another user: %d", rec.Code)
	}
	if rec := send("", "10.0.0.1:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("anonymous: %d", rec.Code)
	}
}

func TestMultipartOriginCheck(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h, err := multipartOriginCheck([]string{"https://app.example.com"}, ok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, contentType, secFetchSite, origin string
		want                                    int
	}{
		{"cross-site form upload", "multipart/form-data; boundary=x", "cross-site", "https://evil.example", http.StatusForbidden},
		{"same-origin form upload", "multipart/form-data; boundary=x", "same-origin", "", http.StatusNoContent},
		{"non-browser client", "multipart/form-data; boundary=x", "", "", http.StatusNoContent},
		{"trusted origin", "multipart/form-data; boundary=x", "cross-site", "https://app.example.com", http.StatusNoContent},
		{"cross-site JSON (CORS decides)", "application/json", "cross-site", "https://evil.example", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "https://api.example.com/graphql", strings.NewReader(""))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.secFetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tt.secFetchSite)
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}
	if _, err := multipartOriginCheck([]string{"not an origin"}, ok); err == nil {
		t.Fatal("a malformed trusted origin was accepted")
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.168.1.7"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct client", "203.0.113.5:4000", "", "203.0.113.5"},
		{"a direct client cannot forge the header", "203.0.113.5:4000", "198.51.100.1", "203.0.113.5"},
		{"through the proxy", "10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},
		{"forged left part is ignored", "10.1.2.3:5000", "1.2.3.4, 198.51.100.1", "198.51.100.1"},
		{"two proxies", "10.1.2.3:5000", "198.51.100.1, 192.168.1.7", "198.51.100.1"},
		{"only proxies", "10.1.2.3:5000", "10.9.9.9", "10.9.9.9"},
		{"malformed header", "10.1.2.3:5000", "not-an-ip", "10.1.2.3"},
		{"no header", "10.1.2.3:5000", "", "10.1.2.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/graphql", nil)
			req.RemoteAddr = tc.remote
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := clientAddr(req, proxies); got != tc.want {
				t.Fatalf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/8", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("bad entry: %v, want an error naming it", err)
	}
}
