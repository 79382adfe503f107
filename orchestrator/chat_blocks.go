package orchestrator

import (
	"regexp"
	"strings"
)

// block is one agent's part of a combined program.
type block struct {
	agent string
	code  string
}

var blockStartRE = regexp.MustCompile(`^# (\w+) code start\s*$`)

// combine joins the agents' code in plan order, each block between
// "# <agent> code start" and "# <agent> code end" markers, so that an error
// can be traced to its agent.
func combine(outs []agentOutput) string {
	var blocks []block
	for _, o := range outs {
		if o.code != "" {
			blocks = append(blocks, block{agent: o.agent, code: o.code})
		}
	}
	return joinBlocks(blocks)
}

func joinBlocks(blocks []block) string {
	var b strings.Builder
	for i, bl := range blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("# " + bl.agent + " code start\n")
		b.WriteString(strings.TrimRight(bl.code, "\n"))
		b.WriteString("\n# " + bl.agent + " code end")
	}
	return b.String()
}

// splitBlocks is the inverse of joinBlocks. Code outside markers becomes a
// block with no agent.
func splitBlocks(code string) []block {
	var out []block
	var cur *block
	var loose []string
	for _, line := range strings.Split(code, "\n") {
		if m := blockStartRE.FindStringSubmatch(line); m != nil && cur == nil {
			if len(loose) > 0 {
				out = append(out, block{code: strings.Join(loose, "\n")})
				loose = nil
			}
			cur = &block{agent: m[1]}
			continue
		}
		if cur != nil && strings.TrimSpace(line) == "# "+cur.agent+" code end" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		if cur != nil {
			if cur.code != "" {
				cur.code += "\n"
			}
			cur.code += line
		} else if strings.TrimSpace(line) != "" {
			loose = append(loose, line)
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	if len(loose) > 0 {
		out = append(out, block{code: strings.Join(loose, "\n")})
	}
	return out
}
