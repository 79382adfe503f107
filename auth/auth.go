package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/session"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// tokenPrefix marks our tokens so that they are easy to recognise in a leak scan.
const tokenPrefix = "aat_"

// Service issues and checks tokens. Safe for concurrent use.
type Service struct {
	db  *ent.Client
	ttl time.Duration
	// adminKey, when set, admits requests with a matching X-Admin-Key header.
	adminKey []byte
	acc      *accounts
	// onCreate runs for every new user (see OnUserCreated).
	onCreate func(ctx context.Context, userID string) error
}

// OnUserCreated sets a function called with the system's privileges for
// every user created from now on (guest or sign-up; a guest who signs up is
// not new): it sets up what a new user starts with (the default agent
// templates). An error fails the creation. Call it before serving.
func (s *Service) OnUserCreated(fn func(ctx context.Context, userID string) error) {
	s.onCreate = fn
}

func (s *Service) created(ctx context.Context, userID string) error {
	if s.onCreate == nil {
		return nil
	}
	if err := s.onCreate(SystemContext(ctx), userID); err != nil {
		return fmt.Errorf("set up new user %s: %w", userID, err)
	}
	return nil
}

// New returns a Service issuing tokens valid for ttl.
func New(db *ent.Client, ttl time.Duration, adminKey string) *Service {
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	s := &Service{db: db, ttl: ttl, acc: newAccounts()}
	if adminKey != "" {
		s.adminKey = []byte(adminKey)
	}
	return s
}

// SystemContext returns ctx with every privacy rule allowed: for workers and
// internal lookups, never for a client's request.
func SystemContext(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// Issued is a new session.
type Issued struct {
	Token     string
	ExpiresAt time.Time
	User      *ent.User
}

// CreateGuest creates a guest user and a session for it.
func (s *Service) CreateGuest(ctx context.Context) (*Issued, error) {
	sys := SystemContext(ctx)
	u, err := s.db.User.Create().SetIsGuest(true).SetUsername("guest").Save(sys)
	if err != nil {
		return nil, fmt.Errorf("create guest user: %w", err)
	}
	if err := s.created(ctx, u.ID); err != nil {
		return nil, err
	}
	return s.issue(ctx, u)
}

func (s *Service) issue(ctx context.Context, u *ent.User) (*Issued, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	exp := time.Now().Add(s.ttl)
	_, err := s.db.Session.Create().
		SetUserID(u.ID).
		SetTokenHash(hashToken(token)).
		SetExpiresAt(exp).
		Save(SystemContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("create session for %s: %w", u.ID, err)
	}
	return &Issued{Token: token, ExpiresAt: exp, User: u}, nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the viewer for a token. An unknown or expired token is
// an UNAUTHENTICATED error; a token that cannot be checked (the database does
// not answer) is an UNAVAILABLE one, so that a client retries instead of
// signing its user out. It is safe for concurrent use.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		return nil, errcode.New(errcode.Unauthenticated, "invalid token")
	}
	sys := SystemContext(ctx)
	ses, err := s.db.Session.Query().
		Where(session.TokenHash(hashToken(token))).
		WithUser().
		Only(sys)
	if ent.IsNotFound(err) {
		return nil, errcode.New(errcode.Unauthenticated, "invalid or expired token")
	}
	if err != nil {
		return nil, &errcode.Error{Code: errcode.Unavailable, Message: "the sign-in could not be checked: the database is unavailable; try again", Err: fmt.Errorf("look up session: %w", err)}
	}
	if time.Now().After(ses.ExpiresAt) {
		return nil, errcode.New(errcode.Unauthenticated, "invalid or expired token")
	}
	u := ses.Edges.User
	return &viewer.Viewer{
		UserID:    u.ID,
		SessionID: ses.ID,
		Role:      viewer.Role(u.Role),
		Plan:      string(u.Plan),
	}, nil
}

// BearerToken extracts the token from an Authorization header value
// ("Bearer <token>"), or "".
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// AdminKeyValid reports whether key matches the configured admin key, in
// constant time. With no key configured it is always false.
func (s *Service) AdminKeyValid(key string) bool {
	if len(s.adminKey) == 0 || key == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(key), s.adminKey) == 1
}

// Middleware puts the viewer of a valid bearer token in the request context.
// Requests without a (valid) token go on without a viewer: what they may do
// is decided by the resolvers and privacy rules. A token that cannot be
// checked (the database is unavailable) is answered 503 with a GraphQL
// error coded UNAVAILABLE and Retry-After, never as if it were invalid.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if tok := BearerToken(r.Header.Get("Authorization")); tok != "" {
			v, err := s.Authenticate(ctx, tok)
			switch {
			case err == nil:
				ctx = viewer.NewContext(ctx, v)
			case errcode.Of(err) == errcode.Unavailable:
				writeUnavailable(w, err)
				return
			}
		}
		if s.AdminKeyValid(r.Header.Get("X-Admin-Key")) {
			v := viewer.FromContext(ctx)
			if v == nil {
				v = &viewer.Viewer{}
			} else {
				cp := *v
				v = &cp
			}
			v.AdminKey = true
			ctx = viewer.NewContext(ctx, v)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeUnavailable answers a request whose token could not be checked: 503,
// Retry-After, and a GraphQL response with one error coded UNAVAILABLE.
func writeUnavailable(w http.ResponseWriter, err error) {
	msg := "the service is unavailable; try again"
	if e, ok := errcode.As(err); ok {
		msg = e.Message
	}
	body, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message": msg, "extensions": map[string]any{"code": errcode.Unavailable},
	}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Retry-After", "2")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(body)
}
