// Package schematype holds Go types stored in JSON columns and exposed through
// GraphQL.
package schematype

// DatasetColumn describes one column of a stored dataset: its name, pandas
// dtype and nulls, and, for datasets profiled fully (at upload since
// profiles have them, or on the first Dataset.profile), its distinct values,
// the range of a numeric column and the most frequent values of another.
type DatasetColumn struct {
	Name      string `json:"name"`
	Dtype     string `json:"dtype"`
	NullCount int64  `json:"nullCount"`
	// DistinctCount is nil until the column has a full profile.
	DistinctCount *int64   `json:"distinctCount,omitempty"`
	Min           *float64 `json:"min,omitempty"`
	Max           *float64 `json:"max,omitempty"`
	// TopValues are at most 5 values, most frequent first.
	TopValues []ValueCount `json:"topValues,omitempty"`
}

// ValueCount is a value of a column and how often it occurs.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Profiled reports whether every column has a full profile.
func Profiled(cols []DatasetColumn) bool {
	for _, c := range cols {
		if c.DistinctCount == nil {
			return false
		}
	}
	return true
}
