// Package column describes the columns of a dataset: the profile the
// executor computes inside the sandbox, that a Dataset row stores in its JSON
// column and that GraphQL serves (DatasetColumn, ColumnProfile, ValueCount).
//
// It imports nothing of ours, so that the executor and the ent schema share
// these types without either importing the other.
package column

// Profile describes one column of a dataset: its name, pandas dtype and
// nulls, and, once profiled fully (at upload since profiles have them, or on
// the first Dataset.profile of an older dataset), its distinct values, the
// range of a numeric column and the most frequent values of another.
type Profile struct {
	Name      string `json:"name"`
	Dtype     string `json:"dtype"`
	NullCount int64  `json:"nullCount"`
	// DistinctCount is the number of distinct non-null values; nil until
	// the column has a full profile.
	DistinctCount *int64 `json:"distinctCount,omitempty"`
	// Min and Max are set for numeric columns with a finite value.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// TopValues are the most frequent values of a non-numeric column, most
	// frequent first (at most 5).
	TopValues []ValueCount `json:"topValues,omitempty"`
}

// ValueCount is a value of a column and how often it occurs.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Profiled reports whether every column has a full profile.
func Profiled(cols []Profile) bool {
	for _, c := range cols {
		if c.DistinctCount == nil {
			return false
		}
	}
	return true
}
