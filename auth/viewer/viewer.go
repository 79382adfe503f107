// Package viewer carries the authenticated caller through a context.
//
// It sits below ent so that privacy rules can read it without import cycles.
package viewer

import (
	"context"

	"github.com/autoanalyst/autoanalyst/errcode"
)

// Role of a user.
type Role string

// Roles.
const (
	RoleUser  Role = "USER"
	RoleAdmin Role = "ADMIN"
)

// Viewer is who is making a request. A Viewer is immutable and safe for
// concurrent use.
type Viewer struct {
	UserID    string
	SessionID string
	Role      Role
	// Plan is FREE or PRO.
	Plan string
	// AdminKey is true when the request carried a valid X-Admin-Key header.
	AdminKey bool
}

// IsAdmin reports whether v may read every row.
func (v *Viewer) IsAdmin() bool { return v != nil && (v.Role == RoleAdmin || v.AdminKey) }

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// Require returns the signed-in (or guest) viewer of ctx, or an
// UNAUTHENTICATED error for a context without one.
func Require(ctx context.Context) (*Viewer, error) {
	v := FromContext(ctx)
	if v == nil || v.UserID == "" {
		return nil, errcode.New(errcode.Unauthenticated, "sign in or create a guest session first")
	}
	return v, nil
}
