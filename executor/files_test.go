package executor

import (
	"reflect"
	"testing"
)

func TestKeptFiles(t *testing.T) {
	f := func(name, data string) File { return File{Name: name, Size: int64(len(data)), Data: []byte(data)} }
	names := func(fs []File) []string {
		var out []string
		for _, x := range fs {
			out = append(out, x.Name)
		}
		return out
	}
	tests := []struct {
		name  string
		in    []File
		files int
		bytes int64
		want  []string
	}{
		{"all kept", []File{f("a.csv", "1"), f("b.txt", "2")}, 10, 100, []string{"a.csv", "b.txt"}},
		{"count", []File{f("a", "1"), f("b", "2"), f("c", "3")}, 2, 100, []string{"a", "b"}},
		{"bytes", []File{f("a", "123"), f("b", "456"), f("c", "7")}, 10, 4, []string{"a", "c"}},
		{"unsafe names", []File{f("../x", "1"), f(".env", "1"), f("a/b", "1"), f("", "1"), f("ok", "1")}, 10, 100, []string{"ok"}},
		{"duplicate", []File{f("a", "1"), f("a", "2")}, 10, 100, []string{"a"}},
		{"size lies", []File{{Name: "a", Size: 1, Data: []byte("12")}}, 10, 100, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(keptFiles(tc.in, tc.files, tc.bytes)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
