// Package rule holds the privacy rules that isolate every user's rows.
//
// A request is either the system (a worker, a migration: privacy.DecisionContext
// with Allow), an admin (reads everything), or a viewer who reads and writes
// only rows whose user_id is theirs. Without a viewer, private rows are denied.
//
// Its import of auth/viewer, to read the caller from the context as ent's
// privacy pattern does, is the one import edge of the project allowed to
// point upwards (from ent to a package above it); no other may.
package rule

import (
	"context"

	"entgo.io/ent"
	"entgo.io/ent/entql"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
)

// DenyIfNoViewer denies queries and mutations made without a viewer.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx) == nil {
			return privacy.Denyf("no viewer")
		}
		return privacy.Skip
	})
}

type userIDFilter interface {
	WhereUserID(entql.StringP)
}

// FilterOwner limits queries, updates and deletes to the viewer's rows.
func FilterOwner() privacy.QueryMutationRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v == nil {
			return privacy.Denyf("no viewer")
		}
		uf, ok := f.(userIDFilter)
		if !ok {
			return privacy.Denyf("unexpected filter type %T", f)
		}
		uf.WhereUserID(entql.StringEQ(v.UserID))
		return privacy.Skip
	})
}

type userIDMutation interface {
	UserID() (string, bool)
}

// OwnCreate allows a viewer to create only rows they own.
func OwnCreate() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		v := viewer.FromContext(ctx)
		um, ok := m.(userIDMutation)
		if v == nil || !ok {
			return privacy.Denyf("no viewer")
		}
		if id, ok := um.UserID(); !ok || id != v.UserID {
			return privacy.Denyf("row owned by another user")
		}
		return privacy.Allow
	})
}

// FilterSelf limits queries and updates of users to the viewer's own row.
func FilterSelf() privacy.QueryMutationRule {
	type idFilter interface{ WhereID(entql.StringP) }
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v == nil {
			return privacy.Denyf("no viewer")
		}
		idf, ok := f.(idFilter)
		if !ok {
			return privacy.Denyf("unexpected filter type %T", f)
		}
		idf.WhereID(entql.StringEQ(v.UserID))
		return privacy.Skip
	})
}

// DenyCreate denies creating rows (only the system creates them).
func DenyCreate() privacy.MutationRule {
	return privacy.MutationRuleFunc(func(ctx context.Context, m ent.Mutation) error {
		if m.Op().Is(ent.OpCreate) {
			return privacy.Denyf("only the system creates %s rows", m.Type())
		}
		return privacy.Skip
	})
}

// FilterSharedOrOwner limits queries to shared rows (no owner) and the
// viewer's own rows; mutations of shared rows are left to the system.
func FilterSharedOrOwner() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if v == nil {
			return privacy.Denyf("no viewer")
		}
		f.Where(entql.Or(entql.FieldNil("user_id"), entql.FieldEQ("user_id", v.UserID)))
		return privacy.Skip
	})
}
