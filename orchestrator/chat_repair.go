package orchestrator

import (
	"strings"

	"github.com/autoanalyst/autoanalyst/executor"
)

// span is where one part of a combined program lies: an agent's block
// (markers included) or, with no agent, loose lines outside every block.
type span struct {
	agent       string
	first, last int // 1-based lines
}

// spans cuts code into agents' blocks and loose lines as splitBlocks reads
// it, with the lines each part covers.
func spans(code string) []span {
	var out []span
	var cur *span
	for i, line := range strings.Split(code, "\n") {
		n := i + 1
		switch {
		case cur != nil && cur.agent != "" && strings.TrimSpace(line) == "# "+cur.agent+" code end":
			cur.last = n
			out = append(out, *cur)
			cur = nil
		case cur != nil && cur.agent != "":
			cur.last = n
		case blockStartRE.MatchString(line):
			if cur != nil {
				out = append(out, *cur)
			}
			cur = &span{agent: blockStartRE.FindStringSubmatch(line)[1], first: n, last: n}
		case cur != nil:
			cur.last = n
		default:
			cur = &span{first: n, last: n}
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// blame names the agent whose block a chat turn's repair rewrites after the
// combined code failed with e, and the code to repair, in which that block
// holds the failing line. The kernel names the block holding the error's
// line; when the line is outside every block (loose code before, between or
// after them), the nearest block before it is blamed (the first block when
// the line comes before all of them) and the loose lines up to the next block
// (or, before the first block, the lines before it) join the blamed block, so
// that its repair can change the line that failed. An error with no line in
// the code (none of its frames ran there) and code without blocks blame no
// agent: "" and code unchanged.
func blame(code string, e *executor.Error) (string, string) {
	if e == nil {
		return "", code
	}
	parts := spans(code)
	if e.Agent != "" {
		for _, p := range parts {
			if p.agent == e.Agent {
				return e.Agent, code
			}
		}
	}
	if e.Line <= 0 {
		return "", code
	}
	at := -1
	for i, p := range parts {
		if p.first <= e.Line && e.Line <= p.last {
			at = i
		}
	}
	if at < 0 {
		at = len(parts) - 1 // past the end (a SyntaxError at the end of the code)
	}
	if at >= 0 && parts[at].agent != "" {
		return parts[at].agent, code
	}
	owner := -1
	for i := at - 1; i >= 0 && owner < 0; i-- {
		if parts[i].agent != "" {
			owner = i
		}
	}
	for i := at + 1; i < len(parts) && owner < 0; i++ {
		if parts[i].agent != "" {
			owner = i
		}
	}
	if owner < 0 {
		return "", code
	}
	return parts[owner].agent, absorb(code, parts, at, owner)
}

// absorb moves the loose lines of parts[loose] into the block parts[owner],
// the nearest block before them or, when none is, after them, and returns
// the code.
func absorb(code string, parts []span, loose, owner int) string {
	lines := strings.Split(code, "\n")
	part := func(p span) []string { return lines[p.first-1 : p.last] }
	var out []string
	for i, p := range parts {
		switch {
		case i == loose:
			continue
		case i == owner && owner < loose:
			// A block that loose lines follow ended with its end marker.
			b := part(p)
			out = append(out, b[:len(b)-1]...)
			out = append(out, part(parts[loose])...)
			out = append(out, b[len(b)-1])
		case i == owner:
			b := part(p)
			out = append(out, b[0]) // its start marker
			out = append(out, part(parts[loose])...)
			out = append(out, b[1:]...)
		default:
			out = append(out, part(p)...)
		}
	}
	return strings.Join(out, "\n")
}
