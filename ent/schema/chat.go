package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// Chat is a conversation about one or more datasets.
type Chat struct{ ent.Schema }

// Mixin of Chat.
func (Chat) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cht"), TimeMixin{}, OwnerMixin{}}
}

// Fields of Chat.
func (Chat) Fields() []ent.Field {
	return []ent.Field{
		field.String("title").Default("New Chat").MaxLen(200).Annotations(entgql.OrderField("TITLE")),
	}
}

// Edges of Chat.
func (Chat) Edges() []ent.Edge {
	cascade := entsql.OnDelete(entsql.Cascade)
	return []ent.Edge{
		edge.From("user", User.Type).Ref("chats").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.To("datasets", Dataset.Type).Annotations(entgql.RelayConnection()),
		edge.To("messages", Message.Type).Annotations(entgql.RelayConnection(), cascade),
		edge.To("runs", Run.Type).Annotations(entgql.RelayConnection(), cascade),
		edge.To("code_executions", CodeExecution.Type).Annotations(entgql.Skip(), cascade),
		edge.To("model_usages", ModelUsage.Type).Annotations(entgql.Skip(), entsql.OnDelete(entsql.SetNull)),
		edge.To("reports", DeepAnalysisReport.Type).Annotations(entgql.Skip(), entsql.OnDelete(entsql.SetNull)),
	}
}

// Annotations of Chat.
func (Chat) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
