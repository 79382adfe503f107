package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// Message is one message of a chat: the user's question or the assistant's answer.
type Message struct{ ent.Schema }

// Mixin of Message.
func (Message) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("msg"), TimeMixin{}, OwnerMixin{}}
}

// Fields of Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.String("chat_id").Immutable(),
		field.Enum("sender").Values("USER", "AI").Immutable(),
		field.Text("content"),
		// RunID is the run that produced (AI) or was started by (USER) this message.
		field.String("run_id").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// Summary is the memory summary of an answer (at most 500 characters)
		// that later turns of the chat are given instead of the whole answer.
		field.Text("summary").Default("").Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// FollowUps are the questions (at most 3) an answer suggests asking
		// next; none on the user's messages and when the step failed.
		field.Strings("follow_ups").Optional().Annotations(entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Edges of Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("messages").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("chat", Chat.Type).Ref("messages").Field("chat_id").Unique().Required().Immutable(),
		edge.To("code_execution", CodeExecution.Type).Unique().Annotations(entsql.OnDelete(entsql.SetNull)),
		// Feedback is the owner's rating of the message (one per message).
		edge.To("feedback", MessageFeedback.Type).Unique().Annotations(entsql.OnDelete(entsql.Cascade)),
		// OutputFiles are the files the answer's code wrote (/tmp/outputs).
		edge.To("output_files", OutputFile.Type).Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of Message.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("chat_id", "created_at"),
		// A run's answer is looked up by its run on every chat turn (a
		// redelivered run finds the answer it stored).
		index.Fields("run_id"),
	}
}

// Annotations of Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.MultiOrder()}
}
