package export

import (
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// Markdown renders chat c with its messages msgs (as for Render) as a
// Markdown document: the title, then per question a "## Question" section
// and per answer an "## Answer" section with its text, its code in a
// ```python block, and what the code produced: stdout and stderr in text
// blocks, tables as Markdown tables, Plotly figures named by their titles,
// images inline (data URIs) and the Python exception with its traceback.
// Code and outputs are fenced with more backticks than any run of them in
// the content, and a fence that a question or an answer leaves open is
// closed, so that no text runs into what follows.
func Markdown(c *ent.Chat, msgs []*ent.Message) []byte {
	var b strings.Builder
	b.WriteString("# " + title(c) + "\n\n" + intro(c) + "\n")
	for _, e := range entries(msgs) {
		if e.user {
			b.WriteString("\n## Question\n\n" + closeFences(e.text) + "\n")
			continue
		}
		b.WriteString("\n## Answer\n")
		if e.text != "" {
			b.WriteString("\n" + closeFences(e.text) + "\n")
		}
		if e.code == "" {
			continue
		}
		b.WriteString("\n" + fenced("python", e.code))
		switch {
		case e.unreadable:
			b.WriteString("\n_The stored result of this code could not be read._\n")
		case e.result == nil:
			b.WriteString("\n_This code has not run._\n")
		default:
			writeResult(&b, e.result)
		}
	}
	return []byte(b.String())
}

// writeResult writes what a code produced.
func writeResult(b *strings.Builder, res *orchestrator.Result) {
	if res.Stdout != "" {
		b.WriteString("\nOutput:\n\n" + fenced("text", res.Stdout))
	}
	if res.Stderr != "" {
		b.WriteString("\nStandard error:\n\n" + fenced("text", res.Stderr))
	}
	for _, t := range res.Tables {
		if md := markdownTable(t); md != "" {
			b.WriteString("\n" + md)
		}
	}
	for i, fig := range res.Figures {
		fmt.Fprintf(b, "\n_Chart %d: %s (interactive in the notebook export)._\n", i+1, mdCell(figureText(fig)))
	}
	for i, img := range res.Images {
		fmt.Fprintf(b, "\n![Figure %d](data:image/png;base64,%s)\n", i+1, img)
	}
	if e := res.Error; e != nil {
		text := e.Traceback
		if text == "" {
			text = e.Type + ": " + e.Message
		}
		b.WriteString("\nError:\n\n" + fenced("text", text))
	}
}

// fenced is text in a fenced code block with info string info, the fence
// longer than any run of backticks in text (at least 3).
func fenced(info, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return fence + info + "\n" + text + fence + "\n"
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// closeFences is Markdown text with a closing fence appended when it leaves
// a fenced code block open (CommonMark: a line of 3 or more backticks or
// tildes, indented at most 3 spaces, is closed by a line of at least as many
// of the same character and nothing else).
func closeFences(text string) string {
	var open string // the opening fence's characters; "" when none is open
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimRight(line, " \t\r")
		trimmed := strings.TrimLeft(l, " ")
		if len(l)-len(trimmed) > 3 || len(trimmed) < 3 || (trimmed[0] != '`' && trimmed[0] != '~') {
			continue
		}
		run := trimmed[:runLen(trimmed)]
		if len(run) < 3 {
			continue
		}
		switch {
		case open == "":
			if run[0] == '`' && strings.Contains(trimmed[len(run):], "`") {
				continue // an info string with a backtick: not a fence
			}
			open = run
		case run[0] == open[0] && len(run) >= len(open) && len(run) == len(trimmed):
			open = ""
		}
	}
	if open == "" {
		return text
	}
	return strings.TrimRight(text, "\n") + "\n" + open
}

// runLen is the length of the run of s's first byte at its start.
func runLen(s string) int {
	n := 1
	for n < len(s) && s[n] == s[0] {
		n++
	}
	return n
}
