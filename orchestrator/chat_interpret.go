package orchestrator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/autoanalyst/autoanalyst/executor"
)

// Budgets of what the interpreter is shown of an execution.
const (
	// interpretStdoutChars bounds the stdout shown (its start and its end).
	interpretStdoutChars = 8000
	// interpretTables and interpretTableRows bound the tables shown.
	interpretTables    = 5
	interpretTableRows = 30
	// interpretFigures bounds the figures summarised.
	interpretFigures = 10
)

// interpreterStep is the step name of the interpreter's LLM call (its usage
// rows, its STEP_MODELS key, the agent of its TOKEN events).
const interpreterStep = "interpreter"

// interpretation is the interpreter's answer and the numbers in it that the
// outputs do not hold.
type interpretation struct {
	text       string
	ungrounded []string
}

// interpret writes the answer of a turn whose code ran from what the
// execution produced (res), streaming its tokens as TOKEN events of the
// interpreter. Numbers of the answer that the outputs (or the question) do
// not hold are listed in a note under it, and logged.
func (s *Service) interpret(t *turn, plan *Plan, res *executor.Result) (*interpretation, error) {
	rc := t.rc
	outputs := describeOutputs(res)
	rc.emit(EventStep, eventData{Agent: interpreterStep, Text: "interpreting what the code produced"})
	prompt, err := render(s.prompts.interpret, map[string]any{
		"Question": truncate(t.question, 4000), "Plan": describePlan(plan), "Outputs": outputs,
	})
	if err != nil {
		return nil, err
	}
	answer, err := s.call(t, interpreterStep, prompt, func(chunk string) {
		rc.emit(EventToken, eventData{Agent: interpreterStep, Text: chunk})
	})
	if err != nil {
		return nil, fmt.Errorf("interpret the outputs: %w", err)
	}
	text := strings.TrimSpace(answer)
	if text == "" {
		return nil, fmt.Errorf("interpret the outputs: the model answered nothing")
	}
	out := &interpretation{text: text, ungrounded: ungroundedNumbers(text, outputs, t.question)}
	if len(out.ungrounded) > 0 {
		s.runLog(rc.user, rc.run.ID).Warn().Strs("numbers", out.ungrounded).
			Msg("the interpreter cited numbers that are not in the outputs")
		out.text += "\n\n_Not found in the outputs: " + strings.Join(out.ungrounded, ", ") + "._"
	}
	return out, nil
}

// describePlan is the plan in one line per step, each starting a line.
func describePlan(p *Plan) string {
	if p == nil || len(p.Steps) == 0 {
		return " (none)"
	}
	var b strings.Builder
	for _, st := range p.Steps {
		b.WriteString("\n- " + st.Agent)
		if st.Instruction != "" {
			b.WriteString(": " + truncate(st.Instruction, 500))
		}
	}
	return b.String()
}

// describeOutputs is what an execution produced, as the interpreter reads
// it: the error, stdout (its start and end within interpretStdoutChars),
// tables as text and a summary of each figure.
func describeOutputs(res *executor.Result) string {
	var b strings.Builder
	if !res.OK {
		b.WriteString("The code failed: " + describeError(res) + "\n\n")
	}
	stdout := strings.TrimSpace(res.Stdout)
	if len(stdout) > interpretStdoutChars {
		head, tail := stdout[:interpretStdoutChars/2], stdout[len(stdout)-interpretStdoutChars/2:]
		stdout = strings.ToValidUTF8(head, "") + "\n[... output cut ...]\n" + strings.ToValidUTF8(tail, "")
	}
	if stdout == "" {
		b.WriteString("Printed output: (none)\n")
	} else {
		b.WriteString("Printed output:\n```\n" + stdout + "\n```\n")
	}
	for i, tb := range res.Tables {
		if i == interpretTables {
			fmt.Fprintf(&b, "\n(%d more tables not shown)\n", len(res.Tables)-interpretTables)
			break
		}
		fmt.Fprintf(&b, "\nTable %d:\n", i+1)
		b.WriteString(tableText(tb))
	}
	for i, f := range res.Figures {
		if i == interpretFigures {
			fmt.Fprintf(&b, "\n(%d more charts not shown)\n", len(res.Figures)-interpretFigures)
			break
		}
		fmt.Fprintf(&b, "\nChart %d: %s\n", i+1, summarizeFigure(f))
	}
	if n := len(res.Images); n > 0 {
		fmt.Fprintf(&b, "\n%d image(s) (matplotlib) were drawn; their content is not shown.\n", n)
	}
	return strings.TrimSpace(b.String())
}

// tableText is a table as pipe-separated lines, at most interpretTableRows
// rows.
func tableText(t executor.Table) string {
	var b strings.Builder
	b.WriteString(strings.Join(t.Columns, " | ") + "\n")
	for i, row := range t.Rows {
		if i == interpretTableRows {
			fmt.Fprintf(&b, "(%d more rows)\n", len(t.Rows)-interpretTableRows)
			break
		}
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = cellText(c)
		}
		b.WriteString(strings.Join(cells, " | ") + "\n")
	}
	if t.Truncated {
		b.WriteString("(the table was cut)\n")
	}
	return b.String()
}

func cellText(c any) string {
	switch v := c.(type) {
	case nil:
		return "(missing)"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return truncate(v, 100)
	default:
		return fmt.Sprint(v)
	}
}

// plotlyFigure is what summarizeFigure reads of a Plotly figure.
type plotlyFigure struct {
	Data []map[string]json.RawMessage `json:"data"`
	// Layout holds title, xaxis and yaxis (titles as text or {text}).
	Layout struct {
		Title json.RawMessage `json:"title"`
		XAxis struct {
			Title json.RawMessage `json:"title"`
		} `json:"xaxis"`
		YAxis struct {
			Title json.RawMessage `json:"title"`
		} `json:"yaxis"`
	} `json:"layout"`
}

// summarizeFigure describes a Plotly figure without its values: its title,
// its axes' titles and each trace's type, name and number of points.
func summarizeFigure(raw json.RawMessage) string {
	var f plotlyFigure
	if err := json.Unmarshal(raw, &f); err != nil {
		return "(unreadable)"
	}
	var parts []string
	if t := plotlyTitle(f.Layout.Title); t != "" {
		parts = append(parts, fmt.Sprintf("title %q", t))
	}
	if t := plotlyTitle(f.Layout.XAxis.Title); t != "" {
		parts = append(parts, fmt.Sprintf("x axis %q", t))
	}
	if t := plotlyTitle(f.Layout.YAxis.Title); t != "" {
		parts = append(parts, fmt.Sprintf("y axis %q", t))
	}
	var traces []string
	for i, tr := range f.Data {
		if i == 10 {
			traces = append(traces, fmt.Sprintf("%d more", len(f.Data)-10))
			break
		}
		kind := "scatter"
		json.Unmarshal(tr["type"], &kind)
		desc := kind
		var name string
		if json.Unmarshal(tr["name"], &name) == nil && name != "" {
			desc += fmt.Sprintf(" %q", truncate(name, 60))
		}
		for _, key := range []string{"x", "y", "values", "z", "labels"} {
			if n, ok := plotlyLen(tr[key]); ok {
				desc += fmt.Sprintf(" of %d points", n)
				break
			}
		}
		traces = append(traces, desc)
	}
	parts = append(parts, fmt.Sprintf("%d trace(s): %s", len(f.Data), strings.Join(traces, "; ")))
	return strings.Join(parts, ", ")
}

// plotlyTitle reads a title given as text or as {"text": ...}.
func plotlyTitle(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return truncate(s, 120)
	}
	var o struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return truncate(o.Text, 120)
	}
	return ""
}

// plotlyLen is the length of a trace's array: a JSON list, or a typed array
// ({"dtype", "bdata"}, base64, as Plotly 6 writes numeric arrays).
func plotlyLen(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return len(list), true
	}
	var typed struct {
		DType string `json:"dtype"`
		BData string `json:"bdata"`
		Shape any    `json:"shape"`
	}
	if json.Unmarshal(raw, &typed) != nil || typed.BData == "" {
		return 0, false
	}
	size := map[string]int{"i1": 1, "u1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "f4": 4, "f8": 8, "i8": 8, "u8": 8}[typed.DType]
	n := base64.StdEncoding.DecodedLen(len(typed.BData))
	if b, err := base64.StdEncoding.DecodeString(typed.BData); err == nil {
		n = len(b)
	}
	if size == 0 {
		return 0, false
	}
	return n / size, true
}

// numberRE finds numbers in text: digits with optional thousands
// separators, decimals and sign.
var numberRE = regexp.MustCompile(`-?\d[\d,]*(?:\.\d+)?`)

// listMarkerRE finds the numbers of a numbered list ("1. ", "2) ").
var listMarkerRE = regexp.MustCompile(`(?m)^\s*\d{1,2}[.)]\s`)

// number is a number found in text and its count of decimals.
type number struct {
	text     string
	value    float64
	decimals int
}

// numbersIn lists the numbers of text that stand alone (not part of a
// name such as df2 or x_1).
func numbersIn(text string) []number {
	var out []number
	for _, loc := range numberRE.FindAllStringIndex(text, -1) {
		if loc[0] > 0 {
			prev := text[loc[0]-1]
			if prev == '_' || prev == '.' || (prev|0x20 >= 'a' && prev|0x20 <= 'z') {
				continue
			}
		}
		raw := strings.TrimRight(text[loc[0]:loc[1]], ",")
		clean := strings.ReplaceAll(raw, ",", "")
		v, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			continue
		}
		d := 0
		if i := strings.IndexByte(clean, '.'); i >= 0 {
			d = len(clean) - i - 1
		}
		out = append(out, number{text: raw, value: v, decimals: d})
	}
	return out
}

// ungroundedNumbers lists (once each, in order) the numbers of answer that
// none of sources holds: a number is grounded when a number of the sources
// rounds to it at its own precision (225.5 cites 225.4999), or does as a
// percentage (12.5 cites 0.125). The numbers of a numbered list are not
// counted.
func ungroundedNumbers(answer string, sources ...string) []string {
	answer = listMarkerRE.ReplaceAllString(answer, " ")
	var known []float64
	for _, src := range sources {
		for _, n := range numbersIn(src) {
			known = append(known, n.value, n.value*100)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range numbersIn(answer) {
		if seen[n.text] || grounded(n, known) {
			continue
		}
		seen[n.text] = true
		out = append(out, n.text)
	}
	return out
}

func grounded(n number, known []float64) bool {
	scale := math.Pow(10, float64(n.decimals))
	want := math.Abs(n.value)
	for _, k := range known {
		if math.Abs(math.Round(math.Abs(k)*scale)/scale-want) < 1e-9*math.Max(1, want) {
			return true
		}
	}
	return false
}
