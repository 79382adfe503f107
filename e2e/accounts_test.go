package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestAccounts signs a guest up (keeping its chat), out, and in again, over
// GraphQL.
func TestAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	guest := srv.session()
	srv.must(guest, createChatMutation, map[string]any{"ids": []string{}}, &struct{}{})
	const signUp = `mutation($in: SignUpInput!) { signUp(input: $in) { token user { id email isGuest } } }`
	const signIn = `mutation($in: SignInInput!) { signIn(input: $in) { token user { id } } }`
	var up struct {
		SignUp struct {
			Token string
			User  struct {
				ID      string
				Email   string
				IsGuest bool
			}
		}
	}
	srv.must(guest, signUp, map[string]any{"in": map[string]any{"email": "Dana@Example.com", "password": "correct horse", "name": "Dana"}}, &up)
	if up.SignUp.User.Email != "dana@example.com" || up.SignUp.User.IsGuest {
		t.Fatalf("signUp: %+v", up.SignUp)
	}
	token := up.SignUp.Token
	chats := func(tok string) int {
		var out struct{ Chats struct{ TotalCount int } }
		srv.must(tok, `{ chats { totalCount } }`, nil, &out)
		return out.Chats.TotalCount
	}
	if n := chats(token); n != 1 {
		t.Fatalf("the account has %d chats, want the guest's 1", n)
	}
	if r := srv.do(guest, `{ chats { totalCount } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("the guest token still works: %+v", r)
	}
	if r := srv.do("", signUp, map[string]any{"in": map[string]any{"email": "dana@EXAMPLE.com", "password": "another one"}}); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("second sign-up with the same email: %+v", r)
	}
	srv.must(token, `mutation { signOut }`, nil, &struct{}{})
	if r := srv.do(token, `{ chats { totalCount } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("token after signOut: %+v", r)
	}
	wrong := srv.do("", signIn, map[string]any{"in": map[string]any{"email": "dana@example.com", "password": "wrong password"}})
	firstFailure := time.Now()
	unknown := srv.do("", signIn, map[string]any{"in": map[string]any{"email": "nobody@example.com", "password": "correct horse"}})
	if wrong.code() != "UNAUTHENTICATED" || len(unknown.Errors) == 0 || wrong.Errors[0].Message != unknown.Errors[0].Message {
		t.Fatalf("wrong password %+v, unknown email %+v", wrong, unknown)
	}
	var in struct{ SignIn struct{ Token string } }
	srv.must("", signIn, map[string]any{"in": map[string]any{"email": "DANA@example.com", "password": "correct horse"}}, &in)
	if n := chats(in.SignIn.Token); n != 1 {
		t.Fatalf("after signIn: %d chats", n)
	}
	// Failed sign-ins for one email are limited (nobody@ failed once above).
	// Five failures, then one more every 30 s: a loaded machine slow enough
	// to let a refill pass allows one more.
	codes := []string{}
	for range 6 {
		codes = append(codes, srv.do("", signIn, map[string]any{"in": map[string]any{"email": "nobody@example.com", "password": "guess"}}).code())
	}
	allowed := 4 + int(time.Since(firstFailure)/(30*time.Second))
	failed := 0
	for i, c := range codes {
		switch {
		case c == "UNAUTHENTICATED":
			failed++
		case c != "RATE_LIMITED" || i < 4:
			t.Fatalf("repeated failed sign-ins: %v", codes)
		}
	}
	if failed > allowed || (allowed == 4 && fmt.Sprint(codes[4:]) != "[RATE_LIMITED RATE_LIMITED]") {
		t.Fatalf("repeated failed sign-ins: %v (%d allowed)", codes, allowed)
	}
	// Another email is not affected.
	srv.must("", signIn, map[string]any{"in": map[string]any{"email": "dana@example.com", "password": "correct horse"}}, &in)
}
