// Package export renders a chat for its owner to take away: as a Jupyter
// notebook (nbformat 4.5: the questions and answers as Markdown cells, each
// answer's code as a code cell with what it produced as outputs) and as a
// Markdown document. The renderers are pure functions over ent values; the
// chat service (package chat) loads the chat and checks who may export it.
package export

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// Format is a format a chat is exported in.
type Format string

// The formats of an export.
const (
	// FormatNotebook is a Jupyter notebook (nbformat 4.5, JSON).
	FormatNotebook Format = "NOTEBOOK"
	// FormatMarkdown is a Markdown document.
	FormatMarkdown Format = "MARKDOWN"
)

// Media types of the exports.
const (
	NotebookMediaType = "application/x-ipynb+json"
	MarkdownMediaType = "text/markdown; charset=utf-8"
)

// File is an exported chat: a file name (ASCII, from the chat's title), its
// media type and its content.
type File struct {
	Filename  string
	MediaType string
	Content   []byte
}

// Render renders chat c with its messages msgs (oldest first; each answer
// with its code execution loaded, Message.Edges.CodeExecution) in format f.
// The chat's datasets are named in the export when they are loaded
// (Chat.Edges.Datasets).
func Render(c *ent.Chat, msgs []*ent.Message, f Format) (*File, error) {
	switch f {
	case FormatNotebook:
		b, err := Notebook(c, msgs)
		if err != nil {
			return nil, err
		}
		return &File{Filename: FileName(c, ".ipynb"), MediaType: NotebookMediaType, Content: b}, nil
	case FormatMarkdown:
		return &File{Filename: FileName(c, ".md"), MediaType: MarkdownMediaType, Content: Markdown(c, msgs)}, nil
	}
	return nil, fmt.Errorf("export chat %s: unknown format %q", c.ID, f)
}

// FileName is the name of c's export with extension ext: its title in
// lowercase ASCII letters and digits separated by "-" (at most 60
// characters), or its ID when the title has none of them.
func FileName(c *ent.Chat, ext string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(c.Title) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 60 {
				break
			}
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return c.ID + ext
	}
	return b.String() + ext
}

// entry is one message as the exports show it.
type entry struct {
	id   string
	user bool
	// text is the question, or the answer without the code and output that
	// the stored answer repeats (they are shown from the code execution).
	text string
	// code is the answer's code as it last ran ("" for none), codeID its code
	// execution's ID.
	code, codeID string
	// result is what code produced when it last ran (nil: never ran, or not
	// kept); unreadable says the stored result could not be read.
	result     *orchestrator.Result
	unreadable bool
}

// entries are msgs as the exports show them.
func entries(msgs []*ent.Message) []entry {
	out := make([]entry, 0, len(msgs))
	for _, m := range msgs {
		e := entry{id: m.ID, user: m.Sender == message.SenderUSER, text: m.Content}
		if ce := m.Edges.CodeExecution; ce != nil && !e.user {
			e.code, e.codeID = ce.LatestCode, ce.ID
			if e.code == "" {
				e.code = ce.InitialCode
			}
			e.text = answerText(m.Content, ce.LatestCode, ce.InitialCode)
			res, err := orchestrator.DecodeResult(ce.Result)
			e.result, e.unreadable = res, err != nil
		}
		out = append(out, e)
	}
	return out
}

// answerText is an answer's content without the code block (and the output
// after it) that the orchestrator appends to the agents' text: cut where
// one of codes appears as a ```python block, else at the last ```python
// line; the whole content when neither is there.
func answerText(content string, codes ...string) string {
	for _, code := range codes {
		if code == "" {
			continue
		}
		if i := strings.Index(content, "```python\n"+code+"\n```"); i >= 0 && atLineStart(content, i) {
			return strings.TrimSpace(content[:i])
		}
	}
	if i := strings.LastIndex(content, "```python\n"); i >= 0 && atLineStart(content, i) {
		return strings.TrimSpace(content[:i])
	}
	return strings.TrimSpace(content)
}

func atLineStart(s string, i int) bool { return i == 0 || s[i-1] == '\n' }

// intro is the sentence under the title: the chat's ID, when it was
// created, and its datasets when they are loaded.
func intro(c *ent.Chat) string {
	s := fmt.Sprintf("Exported from Auto-Analyst: chat `%s`, created %s.", c.ID, c.CreatedAt.UTC().Format("2006-01-02 15:04 MST"))
	if len(c.Edges.Datasets) > 0 {
		names := make([]string, len(c.Edges.Datasets))
		for i, d := range c.Edges.Datasets {
			names[i] = "`" + d.Name + "`"
		}
		s += " The code ran with each dataset as a pandas DataFrame named after it (`df` is the oldest): " +
			strings.Join(names, ", ") + "."
	}
	return s
}

// title is c's title on one line.
func title(c *ent.Chat) string {
	t := strings.Join(strings.Fields(c.Title), " ")
	if t == "" {
		return "Chat " + c.ID
	}
	return t
}
