package orchestrator

import "testing"

func TestTitleFrom(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Which city has the highest prices? Chart it.", "Which city has"},
		{`"House Price Drivers"`, "House Price Drivers"},
		{"  sales   by\nregion  ", "Sales by region"},
		{"**Churn Analysis**.", "Churn Analysis"},
		{"year-over-year growth, please", "Year-over-year growth please"},
		{"what's the median", "What's the median"},
		{"???", ""},
		{"", ""},
		{"Übersicht der Verkäufe 2024 im Detail", "Übersicht der Verkäufe"},
		{"Supercalifragilisticexpialidocious-and-then-some-more-words-in-one-token-of-sixty-plus", "Supercalifragilisticexpialidocious-and-then-some-more-words"},
	}
	for _, tc := range tests {
		if got := titleFrom(tc.in); got != tc.want {
			t.Errorf("titleFrom(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := provisionalTitle("?!"); got != DefaultChatTitle {
		t.Errorf("provisionalTitle of no words = %q", got)
	}
}
