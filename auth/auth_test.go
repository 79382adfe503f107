package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// TestDatabaseDown: a valid token that cannot be checked because the
// database does not answer is UNAVAILABLE (503 with Retry-After over HTTP),
// never UNAUTHENTICATED, which would make a client sign its user out; an
// invalid token is still UNAUTHENTICATED, and the viewer returns with the
// database.
func TestDatabaseDown(t *testing.T) {
	ctx := context.Background()
	db, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(db.Client, time.Hour, "")
	issued, err := s.CreateGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen *viewer.Viewer
	h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = viewer.FromContext(r.Context())
	}))
	serve := func(token string) *httptest.ResponseRecorder {
		seen = nil
		req := httptest.NewRequest("POST", "/graphql", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve(issued.Token); rec.Code != http.StatusOK || seen == nil {
		t.Fatalf("database up: status %d, viewer %v", rec.Code, seen)
	}

	db.Close() // the database stops answering
	if _, err := s.Authenticate(ctx, issued.Token); errcode.Of(err) != errcode.Unavailable {
		t.Fatalf("Authenticate with the database down: %v, want UNAVAILABLE", err)
	}
	rec := serve(issued.Token)
	var body struct {
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Retry-After") == "" || len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "UNAVAILABLE" {
		t.Fatalf("database down: status %d, Retry-After %q, body %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if seen != nil {
		t.Error("the request went on with a viewer")
	}
	// A token that is not ours is refused without the database.
	if _, err := s.Authenticate(ctx, "not-a-token"); errcode.Of(err) != errcode.Unauthenticated {
		t.Errorf("malformed token: %v, want UNAUTHENTICATED", err)
	}
}
