package orchestrator

// nonEmpty is a pointer to s, or nil when s is empty: the value of an
// optional field that is unset when empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
