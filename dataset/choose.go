package dataset

import (
	"fmt"
	"slices"
	"strings"

	"github.com/autoanalyst/autoanalyst/column"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Choosing what of an upload to store: its sheets and its columns.

// cleanList trims the names of a list argument, refusing empty names,
// repeats and more than max names.
func cleanList(field string, in []string, max int) ([]string, error) {
	if len(in) > max {
		return nil, errcode.Field(field, "at most %d names", max)
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, n := range in {
		n = strings.TrimSpace(n)
		if n == "" || len(n) > 255 {
			return nil, errcode.Field(field, "names must be 1 to 255 characters")
		}
		if seen[n] {
			return nil, errcode.Field(field, "%q is named twice", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// checkSheets refuses a sheet the workbook does not have, naming it (an
// error on field).
func checkSheets(field string, want, have []string) error {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return errcode.Field(field, "the workbook has no sheet named %q; its sheets are %s", w, quoteList(have))
		}
	}
	return nil
}

// chooseColumns keeps the columns named in want, in that order (all of them
// when want is empty), refusing a name the dataset does not have.
func chooseColumns(cols []column.Profile, want []string, sheet string) ([]column.Profile, error) {
	if len(want) == 0 {
		return cols, nil
	}
	byName := make(map[string]column.Profile, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		byName[c.Name] = c
		names[i] = c.Name
	}
	out := make([]column.Profile, 0, len(want))
	for _, w := range want {
		c, ok := byName[w]
		if !ok {
			where := "the file"
			if sheet != "" {
				where = fmt.Sprintf("sheet %q", sheet)
			}
			return nil, errcode.Field("columns", "%s has no column named %q; its columns are %s", where, w, quoteList(names))
		}
		out = append(out, c)
	}
	return out, nil
}

// quoteList is names quoted and joined, cut after 20.
func quoteList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == 20 {
			fmt.Fprintf(&b, ", ... (%d more)", len(names)-20)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	if len(names) == 0 {
		return "(none)"
	}
	return b.String()
}

// columnNames are the names of stored columns: the columns a kernel keeps.
func columnNames(cols []column.Profile) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// datasetName is what a stored dataset is named after (before it is made an
// identifier): the name given or the file name; with sheets, the sheet (or
// name_sheet when a name is given for several sheets).
func datasetName(name, fileName, sheet string, severalSheets bool) string {
	switch {
	case severalSheets && name != "":
		return name + "_" + sheet
	case severalSheets || (sheet != "" && name == ""):
		return sheet
	case name != "":
		return name
	}
	return fileName
}
