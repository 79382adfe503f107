package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/client"
)

func TestMakeRequestErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		want        []client.Error // the errors, in order (nil: success)
		wantMessage string         // a part of err.Error()
		wantUser    string         // the decoded viewer's id, errors or not
	}{
		{
			name:     "data",
			body:     `{"data":{"viewer":{"id":"usr_1","role":"USER","createdAt":"2026-01-02T03:04:05Z"}}}`,
			wantUser: "usr_1",
		},
		{
			name: "one error with a code and a field",
			body: `{"data":null,"errors":[{"message":"chat not found","path":["executeCode"],
				"extensions":{"code":"NOT_FOUND","field":"chatID"}}]}`,
			want:        []client.Error{{Message: "chat not found", Code: "NOT_FOUND", Field: "chatID"}},
			wantMessage: "Viewer: NOT_FOUND: chat not found (field chatID)",
		},
		{
			name: "partial data with two errors",
			body: `{"data":{"viewer":{"id":"usr_2"}},"errors":[{"message":"a","extensions":{"code":"INTERNAL"}},
				{"message":"b","extensions":{"code":"BAD_USER_INPUT","field":"x"}}]}`,
			want:        []client.Error{{Message: "a", Code: "INTERNAL"}, {Message: "b", Code: "BAD_USER_INPUT", Field: "x"}},
			wantMessage: "INTERNAL: a; BAD_USER_INPUT: b (field x)",
			wantUser:    "usr_2",
		},
		{
			name:   "rate limited",
			status: http.StatusTooManyRequests,
			header: map[string]string{"Retry-After": "2"},
			body:   `{"errors":[{"message":"too many requests","extensions":{"code":"RATE_LIMITED"}}]}`,
			want: []client.Error{{Message: "too many requests", Code: "RATE_LIMITED", StatusCode: 429,
				RetryAfter: 2 * time.Second}},
		},
		{
			name:        "a request error (application/graphql-response+json)",
			status:      http.StatusBadRequest,
			body:        `{"errors":[{"message":"Cannot query field","extensions":{"code":"BAD_USER_INPUT","reason":"GRAPHQL_VALIDATION_FAILED"}}]}`,
			want:        []client.Error{{Message: "Cannot query field", Code: "BAD_USER_INPUT", StatusCode: 400}},
			wantMessage: "BAD_USER_INPUT: Cannot query field",
		},
		{
			name:        "an HTTP error without GraphQL",
			status:      http.StatusBadGateway,
			body:        "<html>bad gateway</html>",
			want:        []client.Error{{Message: "<html>bad gateway</html>", StatusCode: 502}},
			wantMessage: "Viewer: HTTP 502: <html>bad gateway</html>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req struct {
					Query         string `json:"query"`
					OperationName string `json:"operationName"`
				}
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OperationName != "Viewer" {
					t.Errorf("request: %v %+v", err, req)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(max(tt.status, 200))
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			resp, err := client.Viewer(context.Background(), client.New(srv.URL+"/graphql"))
			if tt.wantUser != "" && (resp.Viewer == nil || resp.Viewer.Id != tt.wantUser) {
				t.Errorf("viewer = %+v, want %s", resp.Viewer, tt.wantUser)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			var first *client.Error
			if !errors.As(err, &first) {
				t.Fatalf("errors.As(%v, *client.Error) = false", err)
			}
			var got []*client.Error
			if es := (client.Errors)(nil); errors.As(err, &es) {
				got = es
			} else {
				got = []*client.Error{first}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors (%v), want %d", len(got), err, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Message != w.Message || g.Code != w.Code || g.Field != w.Field || g.StatusCode != w.StatusCode || g.RetryAfter != w.RetryAfter {
					t.Errorf("error %d = %+v, want %+v", i, g, w)
				}
			}
			if client.Code(err) != tt.want[0].Code {
				t.Errorf("Code(err) = %q", client.Code(err))
			}
			if !strings.Contains(err.Error(), tt.wantMessage) || !strings.HasPrefix(err.Error(), "Viewer: ") {
				t.Errorf("err = %q, want it to start with the operation and contain %q", err, tt.wantMessage)
			}
		})
	}
}

func TestToken(t *testing.T) {
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		io.WriteString(w, `{"data":{"viewer":null}}`)
	}))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = append(gotAuth, "other:"+r.Header.Get("Authorization"))
	}))
	defer other.Close()

	ctx := context.Background()
	anon := client.New(srv.URL)
	alice := client.New(srv.URL, client.WithToken("alice"))
	bob := alice.WithToken("bob")
	for _, c := range []*client.Client{anon, alice, bob} {
		if _, err := client.Viewer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The token goes only to the endpoint's host.
	resp, err := alice.HTTPClient().Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := []string{"", "Bearer alice", "Bearer bob", "other:"}
	if strings.Join(gotAuth, "|") != strings.Join(want, "|") {
		t.Errorf("Authorization headers = %q, want %q", gotAuth, want)
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		endpoint, want, wantErr string
	}{
		{"http://localhost:8000/graphql", "http://localhost:8000/graphql", ""},
		{"http://localhost:8000", "http://localhost:8000/graphql", ""},
		{"https://api.example.com/", "https://api.example.com/graphql", ""},
		{"ftp://example.com/graphql", "", "scheme must be http or https"},
		{"localhost:8000", "", "scheme must be http or https"},
		{"http:///graphql", "", "has no host"},
	}
	for _, tt := range tests {
		c := client.New(tt.endpoint)
		if got := c.Endpoint(); got != tt.want {
			t.Errorf("New(%q).Endpoint() = %q, want %q", tt.endpoint, got, tt.want)
		}
		if tt.wantErr == "" {
			continue
		}
		_, err := client.Viewer(context.Background(), c)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%q): Viewer error = %v, want %q", tt.endpoint, err, tt.wantErr)
		}
		for _, err := range c.RunEvents(context.Background(), "run_1", 0) {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q): RunEvents error = %v, want %q", tt.endpoint, err, tt.wantErr)
			}
		}
	}
}
