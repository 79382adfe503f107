package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/ent/schema/rule"
)

// AgentTemplate is an agent definition: a built-in one (no owner) or a user's
// custom agent (owned).
type AgentTemplate struct{ ent.Schema }

// Mixin of AgentTemplate.
func (AgentTemplate) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tpl"), TimeMixin{}}
}

// Fields of AgentTemplate.
func (AgentTemplate) Fields() []ent.Field {
	return []ent.Field{
		// UserID is empty for built-in templates.
		field.String("user_id").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.String("template_name").Unique().NotEmpty().MaxLen(100).Annotations(entgql.OrderField("NAME")),
		field.String("display_name").Default(""),
		field.Text("description").Default(""),
		field.Text("prompt_template").Default(""),
		field.String("icon_url").Default(""),
		field.String("category").Default("").Annotations(entgql.OrderField("CATEGORY")),
		field.Bool("is_premium_only").Default(false),
		field.Enum("variant_type").Values("INDIVIDUAL", "PLANNER", "BOTH").Default("BOTH"),
		field.String("base_agent").Default(""),
		field.Bool("is_active").Default(true),
	}
}

// Edges of AgentTemplate.
func (AgentTemplate) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("templates").Field("user_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.To("preferences", UserTemplatePreference.Type).
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
	}
}

// Annotations of AgentTemplate.
func (AgentTemplate) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}

// Policy of AgentTemplate: built-in templates are readable by every viewer and
// written by the system; custom templates belong to their owner.
func (AgentTemplate) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfAdmin(),
			rule.FilterSharedOrOwner(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.AllowIfAdmin(),
			rule.OwnCreate(),
			rule.FilterOwner(),
		},
	}
}
