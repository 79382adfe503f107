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

// UserTemplatePreference says whether a user has a template enabled, and how
// often they used it.
type UserTemplatePreference struct{ ent.Schema }

// Mixin of UserTemplatePreference.
func (UserTemplatePreference) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tpr"), TimeMixin{}, OwnerMixin{}}
}

// Fields of UserTemplatePreference.
func (UserTemplatePreference) Fields() []ent.Field {
	return []ent.Field{
		field.String("template_id").Immutable(),
		field.Bool("is_enabled").Default(false),
		field.Int("usage_count").Default(0),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

// Edges of UserTemplatePreference.
func (UserTemplatePreference) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("template_preferences").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("template", AgentTemplate.Type).Ref("preferences").Field("template_id").Unique().Required().Immutable(),
	}
}

// Indexes of UserTemplatePreference.
func (UserTemplatePreference) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "template_id").Unique()}
}

// Annotations of UserTemplatePreference.
func (UserTemplatePreference) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
