package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/schema/rule"
)

// TimeMixin adds created_at and updated_at.
type TimeMixin struct{ mixin.Schema }

// Fields of TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// OwnerMixin adds the owning user's id. Rows with an owner are visible only to
// that user, an admin, or the system (see rule.OwnerPolicy).
type OwnerMixin struct{ mixin.Schema }

// Fields of OwnerMixin.
func (OwnerMixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").Immutable().NotEmpty().
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Indexes of OwnerMixin.
func (OwnerMixin) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Policy of OwnerMixin: the system sees everything, a viewer only
// their own rows, nobody else anything.
func (OwnerMixin) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.FilterOwner(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.OwnCreate(),
			rule.FilterOwner(),
		},
	}
}
