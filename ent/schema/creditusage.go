package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// CreditUsage is the credits a user's runs were charged in one calendar
// month (UTC): one row per user and month, whose counter package credit
// raises only while it stays within the user's allowance.
type CreditUsage struct{ ent.Schema }

// Mixin of CreditUsage.
func (CreditUsage) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cru"), TimeMixin{}, OwnerMixin{}}
}

// Fields of CreditUsage.
func (CreditUsage) Fields() []ent.Field {
	return []ent.Field{
		// Period is the month, "2006-01" (UTC).
		field.String("period").Immutable().NotEmpty().MaxLen(7),
		field.Int("used").Default(0).NonNegative(),
	}
}

// Edges of CreditUsage.
func (CreditUsage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("credit_usages").Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of CreditUsage.
func (CreditUsage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "period").Unique(), index.Fields("period")}
}

// Annotations of CreditUsage: not in the GraphQL schema (viewer.credits and
// the admin queries read it).
func (CreditUsage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
