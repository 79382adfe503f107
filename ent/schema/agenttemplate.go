package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

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
		// Name is the agent's name (a Python identifier, as in @mentions):
		// unique among built-in templates, and among one user's custom
		// templates. The fields are named as in GraphQL (and so are their
		// where-filters); their columns keep their first names.
		field.String("name").StorageKey("template_name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.String("display_name").Default("").MaxLen(200),
		field.Text("description").Default(""),
		field.Text("prompt").StorageKey("prompt_template").Default(""),
		field.String("icon_url").Default(""),
		field.String("category").Default("").Annotations(entgql.OrderField("CATEGORY")),
		field.Bool("is_premium").StorageKey("is_premium_only").Default(false),
		field.Enum("variant").StorageKey("variant_type").Values("INDIVIDUAL", "PLANNER", "BOTH").Default("BOTH").
			Annotations(entgql.Type("TemplateVariant")),
		field.String("base_agent").Default(""),
		// IsActive is false for a template that is kept but not offered.
		field.Bool("is_active").Default(true).Annotations(entgql.Skip()),
		// DefaultEnabled marks the templates a new user starts with.
		field.Bool("default_enabled").Default(false).Annotations(entgql.Skip()),
		// UsageCount is how often any user's runs used the template (the sum
		// of the preferences' usage counts, kept here so that a list needs no
		// aggregate per row).
		field.Int("usage_count").Default(0).NonNegative().Annotations(entgql.OrderField("USAGE_COUNT")),
	}
}

// Indexes of AgentTemplate.
func (AgentTemplate) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "name").Unique(),
		index.Fields("name").Unique().Annotations(entsql.IndexWhere("user_id IS NULL")).
			StorageKey("agenttemplate_builtin_name"),
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
	return []schema.Annotation{entgql.Type("Template"), entgql.RelayConnection(), entgql.MultiOrder()}
}

// Policy of AgentTemplate: built-in templates are readable by every viewer and
// written by the system; custom templates belong to their owner.
func (AgentTemplate) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.FilterSharedOrOwner(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.OwnCreate(),
			rule.FilterOwner(),
		},
	}
}
