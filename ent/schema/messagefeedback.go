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

// MessageFeedback is a user's rating of an answer, with the model settings the
// answer was made with.
type MessageFeedback struct{ ent.Schema }

// Mixin of MessageFeedback.
func (MessageFeedback) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("fbk"), TimeMixin{}, OwnerMixin{}}
}

// Fields of MessageFeedback.
func (MessageFeedback) Fields() []ent.Field {
	return []ent.Field{
		field.String("message_id").Immutable(),
		field.Int("rating").Range(1, 5).Annotations(entgql.OrderField("RATING")),
		field.Text("comment").Default(""),
		field.String("model_name").Default(""),
		field.String("model_provider").Default("").Annotations(LLMProviderType()),
		field.Float("temperature").Default(0),
		field.Int("max_tokens").Default(0),
	}
}

// Edges of MessageFeedback.
func (MessageFeedback) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("feedback").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("message", Message.Type).Ref("feedback").Field("message_id").Unique().Required().Immutable(),
	}
}

// Indexes of MessageFeedback.
func (MessageFeedback) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "message_id").Unique()}
}

// Annotations of MessageFeedback.
func (MessageFeedback) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
