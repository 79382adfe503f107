package resolvers

import (
	"context"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// requireViewer returns the viewer, or an UNAUTHENTICATED error.
func requireViewer(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.UserID == "" {
		return nil, errcode.New(errcode.Unauthenticated, "authentication required: send Authorization: Bearer <token> (createGuestSession gives one)")
	}
	return v, nil
}
