package report

import "testing"

func TestIDFromFile(t *testing.T) {
	tests := []struct {
		in, id string
		ok     bool
	}{
		{"rep_01abc.html", "rep_01abc", true},
		{"rep_01abc", "", false},
		{".html", "", false},
		{"a.b.html", "", false},
		{"rep_x.htm", "", false},
	}
	for _, tt := range tests {
		id, ok := IDFromFile(tt.in)
		if ok != tt.ok || (ok && id != tt.id) {
			t.Errorf("IDFromFile(%q) = %q, %v", tt.in, id, ok)
		}
	}
	if p := DownloadPath("rep_1"); p != "/reports/rep_1.html" {
		t.Errorf("DownloadPath = %q", p)
	}
}
