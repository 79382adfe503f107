package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// Notebook renders chat c with its messages msgs (as for Render) as a
// Jupyter notebook, nbformat 4.5: a Markdown cell with the title, one per
// question ("**Question**" and its text) and one per answer's text; a code
// cell per answer's code, as it last ran, with what it produced as outputs:
// stdout and stderr as streams, tables as display data (text/html and
// text/plain), Plotly figures as application/vnd.plotly.v1+json with a
// text/plain stand-in, images as image/png, and the Python exception as an
// error output. Code cells that ran are numbered 1, 2, … in order; code
// that never ran has no execution count and no outputs. Cell IDs are the
// messages' and code executions' IDs.
func Notebook(c *ent.Chat, msgs []*ent.Message) ([]byte, error) {
	cells := []map[string]any{markdownCell("title", "# "+title(c)+"\n\n"+intro(c))}
	count := 0
	for _, e := range entries(msgs) {
		switch {
		case e.user:
			cells = append(cells, markdownCell(e.id, "**Question**\n\n"+closeFences(e.text)))
			continue
		case e.text != "":
			cells = append(cells, markdownCell(e.id, closeFences(e.text)))
		}
		if e.code == "" {
			continue
		}
		var n any // null: never ran
		outputs := []map[string]any{}
		if e.result != nil || e.unreadable {
			count++
			n = count
			outputs = resultOutputs(e.result)
		}
		cells = append(cells, map[string]any{
			"id": e.codeID, "cell_type": "code", "metadata": map[string]any{},
			"execution_count": n, "source": lines(e.code), "outputs": outputs,
		})
	}
	nb := map[string]any{
		"nbformat": 4, "nbformat_minor": 5, "cells": cells,
		"metadata": map[string]any{
			"kernelspec": map[string]any{"display_name": "Python 3", "language": "python", "name": "python3"},
			"language_info": map[string]any{
				"name": "python", "file_extension": ".py", "mimetype": "text/x-python",
				"codemirror_mode": map[string]any{"name": "ipython", "version": 3},
				"pygments_lexer":  "ipython3", "nbconvert_exporter": "python",
			},
			"autoanalyst": map[string]any{"chat_id": c.ID, "title": c.Title},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		return nil, fmt.Errorf("encode the notebook of chat %s: %w", c.ID, err)
	}
	return b.Bytes(), nil
}

func markdownCell(id, text string) map[string]any {
	return map[string]any{"id": id, "cell_type": "markdown", "metadata": map[string]any{}, "source": lines(text)}
}

// resultOutputs are the outputs of a code cell that produced res (nil: a
// stored result that could not be read).
func resultOutputs(res *orchestrator.Result) []map[string]any {
	if res == nil {
		return []map[string]any{stream("stderr", "[the stored result of this code could not be read]\n")}
	}
	var out []map[string]any
	if res.Stdout != "" {
		out = append(out, stream("stdout", res.Stdout))
	}
	if res.Stderr != "" {
		out = append(out, stream("stderr", res.Stderr))
	}
	for _, t := range res.Tables {
		out = append(out, display(map[string]any{"text/html": lines(htmlTable(t)), "text/plain": lines(plainTable(t))}))
	}
	for _, fig := range res.Figures {
		data := map[string]any{"text/plain": lines(figureText(fig))}
		var obj map[string]any
		if json.Unmarshal(fig, &obj) == nil && obj != nil {
			data["application/vnd.plotly.v1+json"] = json.RawMessage(fig)
		}
		out = append(out, display(data))
	}
	for _, img := range res.Images {
		out = append(out, display(map[string]any{"image/png": img, "text/plain": lines("<Figure>")}))
	}
	if e := res.Error; e != nil {
		name := e.Type
		if name == "" {
			name = "Error"
		}
		tb := strings.Split(strings.TrimRight(e.Traceback, "\n"), "\n")
		if e.Traceback == "" {
			tb = []string{name + ": " + e.Message}
		}
		out = append(out, map[string]any{"output_type": "error", "ename": name, "evalue": e.Message, "traceback": tb})
	}
	if out == nil {
		out = []map[string]any{}
	}
	return out
}

func stream(name, text string) map[string]any {
	return map[string]any{"output_type": "stream", "name": name, "text": lines(text)}
}

func display(data map[string]any) map[string]any {
	return map[string]any{"output_type": "display_data", "data": data, "metadata": map[string]any{}}
}

// lines is s as Jupyter stores multi-line text: its lines, each with its
// "\n" but the last.
func lines(s string) []string {
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
