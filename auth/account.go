package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/session"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Password rules: bcrypt reads at most 72 bytes, so longer passwords are
// refused rather than silently cut.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
	maxEmailLen    = 320
	maxNameLen     = 200
)

// Sign-in failures allowed per email address: signInBurst at once, then one
// every signInEvery.
const (
	signInBurst = 5
	signInEvery = 30 * time.Second
)

// SignUpInput is what signUp takes.
type SignUpInput struct {
	Email    string
	Password string
	Name     string
}

// accounts is the state of sign-in: the password hash cost and the failure
// limiters. Safe for concurrent use.
type accounts struct {
	cost int
	// dummy is compared against when the email is unknown, so that a wrong
	// email takes as long as a wrong password.
	dummy     []byte
	dummyOnce sync.Once
	failures  *lru.Cache[string, *rate.Limiter]
}

func newAccounts() *accounts {
	c, _ := lru.New[string, *rate.Limiter](100_000)
	return &accounts{cost: 12, failures: c}
}

// normalizeEmail trims and lower-cases an address and checks that it is one
// plain address (no display name).
func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", errcode.Field("email", "is required")
	}
	if len(e) > maxEmailLen {
		return "", errcode.Field("email", "is longer than %d characters", maxEmailLen)
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", errcode.Field("email", "is not a valid email address")
	}
	return e, nil
}

func checkPassword(p string) error {
	switch {
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return errcode.Field("password", "must have at least %d characters", MinPasswordLen)
	case len(p) > MaxPasswordLen:
		return errcode.Field("password", "must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// SignUp creates an account and a session for it. When v is a guest's
// viewer, the guest becomes the account (keeping its chats and datasets) and
// its session is replaced by the new one. An email already registered
// (compared case-insensitively) is a BAD_USER_INPUT error on "email".
func (s *Service) SignUp(ctx context.Context, v *viewer.Viewer, in SignUpInput) (*Issued, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := checkPassword(in.Password); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(name) > maxNameLen {
		return nil, errcode.Field("name", "is longer than %d characters", maxNameLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.acc.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	sys := SystemContext(ctx)
	username := email[:strings.Index(email, "@")]
	if name == "" {
		name = username
	}
	var u *ent.User
	if v != nil && v.UserID != "" {
		guest, err := s.db.User.Get(sys, v.UserID)
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", v.UserID, err)
		}
		if !guest.IsGuest {
			return nil, errcode.New(errcode.BadUserInput, "this session already belongs to an account: sign out first")
		}
		u, err = guest.Update().SetEmail(email).SetName(name).SetUsername(username).
			SetPasswordHash(string(hash)).SetIsGuest(false).Save(sys)
		if ent.IsConstraintError(err) {
			return nil, errcode.Field("email", "is already registered")
		}
		if err != nil {
			return nil, fmt.Errorf("register guest %s: %w", v.UserID, err)
		}
		// The guest's token is replaced by the account's.
		if v.SessionID != "" {
			if err := s.db.Session.DeleteOneID(v.SessionID).Exec(sys); err != nil && !ent.IsNotFound(err) {
				return nil, fmt.Errorf("end guest session: %w", err)
			}
		}
	} else {
		u, err = s.db.User.Create().SetEmail(email).SetName(name).SetUsername(username).
			SetPasswordHash(string(hash)).SetIsGuest(false).Save(sys)
		if ent.IsConstraintError(err) {
			return nil, errcode.Field("email", "is already registered")
		}
		if err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
		if err := s.created(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	return s.issue(ctx, u)
}

// errBadCredentials says nothing of which of the two was wrong.
func errBadCredentials() error {
	return errcode.New(errcode.Unauthenticated, "email or password is wrong")
}

// SignIn checks an email and password and starts a session. Failures are
// limited per email address (RATE_LIMITED once exceeded) and do not say
// whether the email or the password was wrong.
func (s *Service) SignIn(ctx context.Context, email, password string) (*Issued, error) {
	e, err := normalizeEmail(email)
	if err != nil || password == "" || len(password) > MaxPasswordLen {
		return nil, errBadCredentials()
	}
	// The limiters live in this process: with several API nodes, each
	// allows its own share.
	lim := rate.NewLimiter(rate.Every(signInEvery), signInBurst)
	if prev, found, _ := s.acc.failures.PeekOrAdd(e, lim); found {
		lim = prev
	}
	if lim.Tokens() < 1 {
		return nil, errcode.New(errcode.RateLimited, "too many failed sign-ins for this email: try again later")
	}
	fail := func() (*Issued, error) {
		lim.Allow()
		return nil, errBadCredentials()
	}
	sys := SystemContext(ctx)
	u, err := s.db.User.Query().Where(user.Email(e), user.IsGuest(false)).Only(sys)
	if ent.IsNotFound(err) {
		bcrypt.CompareHashAndPassword(s.acc.dummyHash(), []byte(password))
		return fail()
	}
	if err != nil {
		return nil, fmt.Errorf("look up account: %w", err)
	}
	if u.PasswordHash == "" {
		return fail()
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)); err != nil {
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return fail()
		}
		return nil, fmt.Errorf("check password: %w", err)
	}
	return s.issue(ctx, u)
}

func (a *accounts) dummyHash() []byte {
	a.dummyOnce.Do(func() {
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), a.cost)
	})
	return a.dummy
}

// SignOut ends the viewer's session: its token stops working at once.
func (s *Service) SignOut(ctx context.Context, v *viewer.Viewer) error {
	if v == nil || v.SessionID == "" {
		return errcode.New(errcode.Unauthenticated, "no session to end")
	}
	_, err := s.db.Session.Delete().Where(session.ID(v.SessionID), session.UserID(v.UserID)).Exec(SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
