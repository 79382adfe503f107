// Package schematype holds Go types stored in JSON columns and exposed through
// GraphQL.
package schematype

// DatasetColumn describes one column of a stored dataset.
type DatasetColumn struct {
	Name      string `json:"name"`
	Dtype     string `json:"dtype"`
	NullCount int64  `json:"nullCount"`
}
