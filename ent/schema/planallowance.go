package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// PlanAllowance is an admin's monthly allowance of credits for one plan; a
// plan without a row has the server's default (CREDITS_FREE, CREDITS_PRO).
type PlanAllowance struct{ ent.Schema }

// Mixin of PlanAllowance.
func (PlanAllowance) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pla"), TimeMixin{}}
}

// Fields of PlanAllowance.
func (PlanAllowance) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("plan").Values("FREE", "PRO"),
		// Credits a month; negative: unlimited.
		field.Int("credits"),
	}
}

// Indexes of PlanAllowance: one row per plan.
func (PlanAllowance) Indexes() []ent.Index {
	return []ent.Index{index.Fields("plan").Unique()}
}

// Annotations of PlanAllowance: not in the GraphQL schema.
func (PlanAllowance) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of PlanAllowance: only the system (package credit, for admins)
// reads and writes it.
func (PlanAllowance) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{privacy.AlwaysDenyRule()},
	}
}
