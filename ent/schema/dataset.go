package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
)

// Dataset is an uploaded table, stored as a file and loaded into kernels as a
// pandas DataFrame named Name.
type Dataset struct{ ent.Schema }

// Mixin of Dataset.
func (Dataset) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dts"), TimeMixin{}, OwnerMixin{}}
}

// Fields of Dataset.
func (Dataset) Fields() []ent.Field {
	return []ent.Field{
		// Name is the Python variable: an identifier of at most 30 characters.
		field.String("name").NotEmpty().MaxLen(30).Annotations(entgql.OrderField("NAME")),
		field.String("file_name").NotEmpty().MaxLen(255),
		field.Text("description").Default(""),
		field.Enum("format").Values("CSV", "XLSX", "JSON", "XLS").Default("CSV"),
		field.String("sheet").Optional().Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.Int64("size_bytes").NonNegative().Annotations(entgql.OrderField("SIZE_BYTES")),
		field.String("sha256").Annotations(entgql.Skip(entgql.SkipWhereInput)),
		// StorageKey locates the file in blob storage; never exposed.
		field.String("storage_key").Sensitive().Annotations(entgql.Skip()),
		field.Int64("row_count").Default(0),
		field.JSON("columns", []column.Profile{}).
			Annotations(entgql.Type("[DatasetColumn!]")),
	}
}

// Edges of Dataset.
func (Dataset) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("datasets").Field("user_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("chats", Chat.Type).Ref("datasets").Annotations(entgql.Skip()),
	}
}

// Annotations of Dataset.
func (Dataset) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.MultiOrder()}
}
