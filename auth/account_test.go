package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/errcode"
)

func newService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(db.Client, time.Hour, "")
	s.acc.cost = bcrypt.MinCost // the production cost is slow on purpose
	return s
}

func wantCode(t *testing.T, err error, code errcode.Code, field string) {
	t.Helper()
	e, ok := errcode.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("error %v, want %s on %q", err, code, field)
	}
}

func TestSignUpValidation(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		in    SignUpInput
		field string
	}{
		{"empty email", SignUpInput{Email: " ", Password: "long enough"}, "email"},
		{"not an address", SignUpInput{Email: "alice", Password: "long enough"}, "email"},
		{"display name", SignUpInput{Email: "Alice <alice@example.com>", Password: "long enough"}, "email"},
		{"no domain dot", SignUpInput{Email: "alice@localhost", Password: "long enough"}, "email"},
		{"too long email", SignUpInput{Email: strings.Repeat("a", 320) + "@example.com", Password: "long enough"}, "email"},
		{"short password", SignUpInput{Email: "alice@example.com", Password: "short"}, "password"},
		{"password over 72 bytes", SignUpInput{Email: "alice@example.com", Password: strings.Repeat("é", 37)}, "password"},
		{"long name", SignUpInput{Email: "alice@example.com", Password: "long enough", Name: strings.Repeat("n", 201)}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SignUp(ctx, nil, tt.in)
			wantCode(t, err, errcode.BadUserInput, tt.field)
		})
	}
}

func TestAccountLifecycle(t *testing.T) {
	s := newService(t)
	ctx := context.Background()

	// A guest signs up and keeps its user (and so its data); its token ends.
	guest, err := s.CreateGuest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gv, err := s.Authenticate(ctx, guest.Token)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := s.SignUp(ctx, gv, SignUpInput{Email: "  Alice@Example.COM ", Password: "correct horse", Name: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if acc.User.ID != guest.User.ID || acc.User.IsGuest || *acc.User.Email != "alice@example.com" || acc.User.Name != "Alice" {
		t.Fatalf("account %+v from guest %s", acc.User, guest.User.ID)
	}
	if acc.User.PasswordHash == "correct horse" || !strings.HasPrefix(acc.User.PasswordHash, "$2") {
		t.Fatal("the password is not stored as a bcrypt hash")
	}
	if _, err := s.Authenticate(ctx, guest.Token); errcode.Of(err) != errcode.Unauthenticated {
		t.Fatalf("the guest's token still works: %v", err)
	}
	av, err := s.Authenticate(ctx, acc.Token)
	if err != nil || av.UserID != guest.User.ID {
		t.Fatalf("account token: %+v %v", av, err)
	}
	// An account cannot sign up again with its session.
	if _, err := s.SignUp(ctx, av, SignUpInput{Email: "other@example.com", Password: "correct horse"}); errcode.Of(err) != errcode.BadUserInput {
		t.Fatalf("sign-up from an account's session: %v", err)
	}

	// The email is unique, whatever its case.
	_, err = s.SignUp(ctx, nil, SignUpInput{Email: "ALICE@example.com", Password: "another one"})
	wantCode(t, err, errcode.BadUserInput, "email")

	// Sign-in: the wrong password and the unknown email fail alike.
	_, errPass := s.SignIn(ctx, "alice@example.com", "wrong password")
	_, errMail := s.SignIn(ctx, "nobody@example.com", "correct horse")
	if errcode.Of(errPass) != errcode.Unauthenticated || errPass.Error() != errMail.Error() {
		t.Fatalf("wrong password: %v; unknown email: %v", errPass, errMail)
	}
	in, err := s.SignIn(ctx, "Alice@example.com", "correct horse")
	if err != nil || in.User.ID != guest.User.ID {
		t.Fatalf("sign in: %+v %v", in, err)
	}

	// Sign-out ends that session only.
	iv, _ := s.Authenticate(ctx, in.Token)
	if err := s.SignOut(ctx, iv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, in.Token); errcode.Of(err) != errcode.Unauthenticated {
		t.Fatalf("token after sign-out: %v", err)
	}
	if _, err := s.Authenticate(ctx, acc.Token); err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	if err := s.SignOut(ctx, &viewer.Viewer{}); errcode.Of(err) != errcode.Unauthenticated {
		t.Fatalf("sign-out without a session: %v", err)
	}
}

func TestSignInRateLimited(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	if _, err := s.SignUp(ctx, nil, SignUpInput{Email: "bob@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for i := range signInBurst {
		if _, err := s.SignIn(ctx, "bob@example.com", "wrong password"); errcode.Of(err) != errcode.Unauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Limited now, even with the right password, and whatever the case.
	if _, err := s.SignIn(ctx, "BOB@example.com", "correct horse"); errcode.Of(err) != errcode.RateLimited {
		t.Fatalf("after %d failures: %v", signInBurst, err)
	}
	// Another address is not affected.
	if _, err := s.SignIn(ctx, "carol@example.com", "whatever it is"); errcode.Of(err) != errcode.Unauthenticated {
		t.Fatalf("another email: %v", err)
	}
}
