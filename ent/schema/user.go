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

// User is an account: a guest, or a signed-up user.
type User struct{ ent.Schema }

// Mixin of User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("usr"), TimeMixin{}}
}

// Fields of User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").Default("").MaxLen(100),
		// Email is stored lower-cased; unique when set.
		field.String("email").Optional().Nillable().Unique().MaxLen(320),
		field.String("name").Default("").MaxLen(200),
		field.String("password_hash").Optional().Sensitive().Annotations(entgql.Skip()),
		field.Enum("role").Values("USER", "ADMIN").Default("USER"),
		field.Enum("plan").Values("FREE", "PRO").Default("FREE"),
		field.Bool("is_guest").Default(true),
		// Model settings (updateModelSettings); unset means the server's defaults.
		field.String("model_provider").Optional().Nillable().Annotations(entgql.Skip()),
		field.String("model_name").Optional().Nillable().Annotations(entgql.Skip()),
		field.Float("model_temperature").Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("model_max_tokens").Optional().Nillable().Annotations(entgql.Skip()),
		// ModelAPIKey is the user's own provider key, sealed with AES-GCM under
		// a key derived from SECRET_KEY (package secret); never returned.
		field.Bytes("model_api_key").Optional().Nillable().Sensitive().Annotations(entgql.Skip()),
		// CreditAllowance is an admin's monthly allowance of credits for this
		// user, over the plan's (negative: unlimited; unset: the plan's).
		field.Int("credit_allowance").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of User.
func (User) Edges() []ent.Edge {
	skip := entgql.Skip()
	cascade := entsql.OnDelete(entsql.Cascade)
	return []ent.Edge{
		edge.To("sessions", Session.Type).Annotations(skip, cascade),
		edge.To("datasets", Dataset.Type).Annotations(skip, cascade),
		edge.To("chats", Chat.Type).Annotations(skip, cascade),
		edge.To("messages", Message.Type).Annotations(skip, cascade),
		edge.To("runs", Run.Type).Annotations(skip, cascade),
		edge.To("code_executions", CodeExecution.Type).Annotations(skip, cascade),
		edge.To("model_usages", ModelUsage.Type).Annotations(skip, cascade),
		edge.To("feedback", MessageFeedback.Type).Annotations(skip, cascade),
		edge.To("templates", AgentTemplate.Type).Annotations(skip, cascade),
		edge.To("template_preferences", UserTemplatePreference.Type).Annotations(skip, cascade),
		edge.To("output_files", OutputFile.Type).Annotations(skip, cascade),
		edge.To("reports", DeepAnalysisReport.Type).Annotations(skip, cascade),
		edge.To("credit_usages", CreditUsage.Type).Annotations(skip, cascade),
	}
}

// Annotations of User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of User: a viewer reads and updates their own row; only the system
// creates users.
func (User) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			rule.DenyIfNoViewer(),
			rule.FilterSelf(),
		},
		Mutation: privacy.MutationPolicy{
			rule.DenyIfNoViewer(),
			rule.DenyCreate(),
			rule.FilterSelf(),
		},
	}
}
