package dataset

import "testing"

func TestIdentifier(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Housing Prices.csv", "housing_prices"},
		{"2024 sales.xlsx", "d_2024_sales"},
		{"../../etc/passwd", "passwd"},
		{"class.csv", "class_data"},
		{"df.csv", "df_data"},
		{"Input", "input_data"}, // a built-in: a sheet named Input
		{"sum.csv", "sum_data"},
		{"..csv", "dataset"},
		{"ünïcödé-名前.csv", "n_c_d"},
		{"a_very_long_file_name_that_goes_on_and_on.csv", "a_very_long_file_name_that_goe"},
		{"", "dataset"},
	}
	for _, tt := range tests {
		if got := Identifier(tt.in); got != tt.want {
			t.Errorf("Identifier(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Identifier(tt.in); len(got) > MaxIdentifierLen {
			t.Errorf("Identifier(%q) too long: %q", tt.in, got)
		}
	}
}

func TestUnique(t *testing.T) {
	taken := map[string]bool{"sales": true, "sales_2": true, "a_very_long_file_name_that_goe": true}
	if got := Unique("sales", taken); got != "sales_3" {
		t.Fatalf("got %q", got)
	}
	if got := Unique("other", taken); got != "other" {
		t.Fatalf("got %q", got)
	}
	if got := Unique("a_very_long_file_name_that_goe", taken); got != "a_very_long_file_name_that_g_2" {
		t.Fatalf("got %q", got)
	}
}
