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

// ModelUsage is one LLM call: tokens as the provider reported them, and cost.
// Rows outlive their chat (chat_id is set to NULL) for accounting.
type ModelUsage struct{ ent.Schema }

// Mixin of ModelUsage.
func (ModelUsage) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("use"), TimeMixin{}, OwnerMixin{}}
}

// Fields of ModelUsage.
func (ModelUsage) Fields() []ent.Field {
	return []ent.Field{
		field.String("chat_id").Optional().Nillable(),
		field.String("run_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// Step names what the call was for ("planner", "data_viz_agent", ...).
		field.String("step").Default(""),
		field.String("model_name").Annotations(entgql.OrderField("MODEL_NAME")),
		field.String("provider").Annotations(LLMProviderType()),
		field.Int("prompt_tokens").Default(0),
		field.Int("completion_tokens").Default(0),
		field.Int("total_tokens").Default(0).Annotations(entgql.OrderField("TOTAL_TOKENS")),
		field.Int("query_size").Default(0),
		field.Int("response_size").Default(0),
		field.Float("cost").Default(0).Annotations(entgql.OrderField("COST")),
		field.Bool("is_streaming").Default(false),
		field.Int("request_time_ms").Default(0),
		field.Text("error").Optional().Nillable(),
	}
}

// Edges of ModelUsage.
func (ModelUsage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("model_usages").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("chat", Chat.Type).Ref("model_usages").Field("chat_id").Unique().
			Annotations(entgql.Skip()),
	}
}

// Indexes of ModelUsage.
func (ModelUsage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at"), index.Fields("run_id")}
}

// Annotations of ModelUsage.
func (ModelUsage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
