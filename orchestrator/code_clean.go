package orchestrator

import "strings"

// CleanCode moves a Python program's top-level imports to its top,
// deduplicated, in the order they first appear (`from __future__` imports
// first), followed by the rest of the program unchanged. Imports inside
// functions, classes or blocks, and text inside triple-quoted strings, stay
// where they are. It needs no LLM and gives the same output for the same
// input; cleaning clean code changes nothing. It is safe for concurrent use.
func CleanCode(code string) string {
	code = strings.ReplaceAll(code, "\r\n", "\n")
	trailing := strings.HasSuffix(code, "\n")
	lines := strings.Split(strings.TrimSuffix(code, "\n"), "\n")
	var future, imports, body []string
	seen := map[string]bool{}
	add := func(stmt string) {
		key := strings.Join(strings.Fields(stmt), " ")
		if seen[key] {
			return
		}
		seen[key] = true
		if strings.HasPrefix(key, "from __future__ ") {
			future = append(future, stmt)
		} else {
			imports = append(imports, stmt)
		}
	}
	inString := "" // the quote of the triple-quoted string a line ends inside
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if inString == "" && isImport(line) {
			// The whole statement: parenthesised or continued lines.
			stmt := []string{line}
			depth := parenDepth(line)
			for (depth > 0 || strings.HasSuffix(strings.TrimRight(stmt[len(stmt)-1], " \t"), "\\")) && i+1 < len(lines) {
				i++
				stmt = append(stmt, lines[i])
				depth += parenDepth(lines[i])
			}
			add(strings.Join(stmt, "\n"))
			continue
		}
		body = append(body, line)
		inString = scanStrings(line, inString)
	}
	// Drop the blank lines the imports leave at the top of the body.
	for len(body) > 0 && strings.TrimSpace(body[0]) == "" {
		body = body[1:]
	}
	head := append(future, imports...)
	out := strings.Join(body, "\n")
	if len(head) > 0 {
		out = strings.Join(head, "\n") + "\n\n" + out
		if len(body) == 0 {
			out = strings.Join(head, "\n")
		}
	}
	if trailing {
		out += "\n"
	}
	return out
}

// isImport reports whether line starts a top-level import statement.
func isImport(line string) bool {
	if strings.HasPrefix(line, "import ") {
		return true
	}
	if strings.HasPrefix(line, "from ") {
		f := strings.Fields(line)
		return len(f) >= 3 && f[2] == "import"
	}
	return false
}

// parenDepth is how many parentheses line opens minus how many it closes,
// outside a comment.
func parenDepth(line string) int {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.Count(line, "(") - strings.Count(line, ")")
}

// scanStrings follows triple-quoted strings across a line: given the quote
// the line starts inside ("" for none), it returns the one it ends inside.
// Comments and single-quoted strings are skipped, roughly (escapes aside).
func scanStrings(line, in string) string {
	for i := 0; i < len(line); {
		if in != "" {
			j := strings.Index(line[i:], in)
			if j < 0 {
				return in
			}
			i += j + 3
			in = ""
			continue
		}
		switch c := line[i]; {
		case c == '#':
			return ""
		case strings.HasPrefix(line[i:], `"""`) || strings.HasPrefix(line[i:], `'''`):
			in = line[i : i+3]
			i += 3
		case c == '"' || c == '\'':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return ""
			}
			i += j + 2
		default:
			i++
		}
	}
	return in
}
