package export

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// cellText is a table cell as pandas prints it: numbers without a trailing
// ".0" where they are whole, booleans True and False, a missing value NaN.
func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NaN"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// truncatedNote is said under a table the executor cut short.
const truncatedNote = "(truncated: the first rows only)"

// plainTable is t as aligned text columns.
func plainTable(t orchestrator.Table) string {
	rows := make([][]string, 0, len(t.Rows)+1)
	rows = append(rows, t.Columns)
	for _, r := range t.Rows {
		cells := make([]string, len(t.Columns))
		for i := range cells {
			if i < len(r) {
				cells[i] = oneLine(cellText(r[i]))
			}
		}
		rows = append(rows, cells)
	}
	widths := make([]int, len(t.Columns))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		line := make([]string, len(r))
		for i, c := range r {
			line[i] = c + strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
		}
		b.WriteString(strings.TrimRight(strings.Join(line, "  "), " "))
		b.WriteByte('\n')
	}
	if t.Truncated {
		b.WriteString(truncatedNote + "\n")
	}
	return b.String()
}

// htmlTable is t as an HTML table, its text escaped.
func htmlTable(t orchestrator.Table) string {
	var b strings.Builder
	b.WriteString("<table class=\"dataframe\">\n<thead>\n<tr>")
	for _, c := range t.Columns {
		b.WriteString("<th>" + html.EscapeString(c) + "</th>")
	}
	b.WriteString("</tr>\n</thead>\n<tbody>\n")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for i := range t.Columns {
			cell := ""
			if i < len(r) {
				cell = cellText(r[i])
			}
			b.WriteString("<td>" + html.EscapeString(cell) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	if t.Truncated {
		b.WriteString("<p>" + truncatedNote + "</p>\n")
	}
	return b.String()
}

// markdownTable is t as a Markdown (GFM) table: pipes and backslashes
// escaped, line breaks as spaces.
func markdownTable(t orchestrator.Table) string {
	if len(t.Columns) == 0 {
		return ""
	}
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteByte('\n')
	}
	row(t.Columns)
	b.WriteString("|" + strings.Repeat(" --- |", len(t.Columns)) + "\n")
	for _, r := range t.Rows {
		cells := make([]string, len(t.Columns))
		for i := range cells {
			if i < len(r) {
				cells[i] = cellText(r[i])
			}
		}
		row(cells)
	}
	if t.Truncated {
		b.WriteString("\n_" + truncatedNote + "_\n")
	}
	return b.String()
}

// mdCell is a table cell's text in Markdown: on one line, with the
// characters that would end the cell or start markup escaped.
func mdCell(s string) string {
	s = oneLine(s)
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "`", "\\`", "*", `\*`, "_", `\_`)
	return r.Replace(s)
}

// oneLine is s with its line breaks as spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// figureTitle is the title of a Plotly figure ("" for none).
func figureTitle(fig json.RawMessage) string {
	var f struct {
		Layout struct {
			Title json.RawMessage `json:"title"`
		} `json:"layout"`
	}
	if json.Unmarshal(fig, &f) != nil || len(f.Layout.Title) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(f.Layout.Title, &s) == nil {
		return oneLine(s)
	}
	var t struct {
		Text string `json:"text"`
	}
	json.Unmarshal(f.Layout.Title, &t)
	return oneLine(t.Text)
}

// figureText is the plain-text stand-in of a Plotly figure.
func figureText(fig json.RawMessage) string {
	if t := figureTitle(fig); t != "" {
		return "Plotly figure: " + t
	}
	return "Plotly figure"
}
