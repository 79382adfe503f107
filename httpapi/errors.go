package httpapi

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	gqlerrcode "github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// ErrorPresenter gives every error an extensions.code. Errors without a
// client-safe message are logged and shown as INTERNAL.
func ErrorPresenter(log zerolog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			// gqlgen's own: its code becomes ours, kept as the reason.
			if c, ok := gerr.Extensions["code"].(string); ok {
				if mapped, ok := gqlgenCodes[c]; ok {
					gerr.Extensions["code"], gerr.Extensions["reason"] = string(mapped), c
				}
			}
			return gerr
		}
		var inner error = err
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err != nil {
			inner = ge.Err
		}
		code, msg := classify(ctx, inner)
		if code == errcode.Internal {
			logFor(ctx, log).Error().Err(inner).Str("path", gerr.Path.String()).Msg("internal error in resolver")
		} else if _, outage := errcode.Outage(inner); outage {
			logFor(ctx, log).Warn().Err(inner).Str("path", gerr.Path.String()).Msg("answered UNAVAILABLE: a dependency is down or out of room")
		}
		gerr.Message = msg
		ext := map[string]any{"code": string(code)}
		if e, ok := errcode.As(inner); ok {
			for k, v := range e.Extensions {
				ext[k] = v
			}
			if e.Field != "" {
				ext["field"] = e.Field
			}
		}
		gerr.Extensions = ext
		return gerr
	}
}

// gqlgenCodes maps gqlgen's error codes onto ours. PERSISTED_QUERY_NOT_FOUND
// stays: the automatic persisted queries protocol has clients resend the
// query on that code.
var gqlgenCodes = map[string]errcode.Code{
	gqlerrcode.ParseFailed:      errcode.BadUserInput,
	gqlerrcode.ValidationFailed: errcode.BadUserInput,
	"COMPLEXITY_LIMIT_EXCEEDED": errcode.LimitExceeded,
	"INVALID_PAGINATION":        errcode.BadUserInput, // entgql's
}

// persistedQueries is gqlgen's automatic persisted queries, whose refusals
// (a hash that does not match its query, a malformed extension) are the
// client's mistakes: BAD_USER_INPUT. PERSISTED_QUERY_NOT_FOUND keeps its
// code, on which clients resend the query. It is safe for concurrent use.
type persistedQueries struct {
	extension.AutomaticPersistedQuery
}

// MutateOperationParameters looks the query up or stores it.
func (p persistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, raw)
	if err != nil && err.Extensions["code"] == nil {
		err.Extensions = map[string]any{"code": string(errcode.BadUserInput)}
	}
	return err
}

func classify(ctx context.Context, err error) (errcode.Code, string) {
	if e, ok := errcode.As(err); ok {
		return e.Code, e.Error()
	}
	switch {
	case ent.IsNotFound(err):
		return errcode.NotFound, "not found"
	case errors.Is(err, privacy.Deny):
		if viewer.FromContext(ctx) == nil {
			return errcode.Unauthenticated, "authentication required"
		}
		return errcode.NotFound, "not found"
	case ent.IsValidationError(err):
		var ve *ent.ValidationError
		errors.As(err, &ve)
		return errcode.BadUserInput, ve.Name + ": invalid value"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errcode.Unavailable, "the request was cancelled or timed out"
	}
	if reason, ok := errcode.Outage(err); ok {
		return errcode.Unavailable, reason
	}
	return errcode.Internal, "internal error"
}
