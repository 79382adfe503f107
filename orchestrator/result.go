package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/autoanalyst/autoanalyst/executor"
)

// DefaultMaxResultBytes bounds the figures, images and tables stored with a
// code execution when Config.MaxResultBytes is 0: the executor's default
// bound of one execution's (EXEC_MAX_RESULT_BYTES).
const DefaultMaxResultBytes = 64 << 20

// EncodeResult is what a code execution record stores of what its code
// produced (CodeExecution.result): res as JSON, as the executor returned it
// (stdout and stderr bounded by EXEC_MAX_OUTPUT_BYTES, the error with its
// traceback, Plotly figures, base64 PNG images, tables). The figures, images
// and tables are stored when their JSON is at most maxResult bytes (0:
// DefaultMaxResultBytes), the bound the executor puts on them; beyond it
// (which the executor does not let through) or when they cannot be encoded,
// they are left out and stderr says so. HTML characters are not escaped, so
// that a figure's "<br>" takes 4 bytes, not 14.
func EncodeResult(res *Result, maxResult int64) string {
	if maxResult <= 0 {
		maxResult = DefaultMaxResultBytes
	}
	lean := *res
	lean.Figures, lean.Images, lean.Tables = []json.RawMessage{}, nil, nil
	leanJSON, err := encodeJSON(&lean)
	if err != nil { // strings and numbers only: cannot happen
		return ""
	}
	full, err := encodeJSON(res)
	switch {
	case err != nil:
		lean.Stderr = withNote(lean.Stderr, "[the figures, images and tables could not be stored: "+err.Error()+"]")
	case int64(len(full)-len(leanJSON)) > maxResult:
		lean.Stderr = withNote(lean.Stderr, fmt.Sprintf("[the figures, images and tables (%d bytes) exceed EXEC_MAX_RESULT_BYTES (%d) and were not stored]",
			len(full)-len(leanJSON), maxResult))
	default:
		return string(full)
	}
	out, _ := encodeJSON(&lean)
	return string(out)
}

// Result is what a code execution produced, as run events carry it and an
// answer's code execution stores it: the executor's result, read back.
type Result struct {
	OK     bool       `json:"ok"`
	Stdout string     `json:"stdout"`
	Stderr string     `json:"stderr"`
	Error  *ExecError `json:"error,omitempty"`
	// Figures are Plotly figure JSON documents.
	Figures []json.RawMessage `json:"figures"`
	// Images are PNG images (matplotlib), base64-encoded.
	Images []string `json:"images,omitempty"`
	Tables []Table  `json:"tables,omitempty"`
	// Files are not part of a stored result: they are kept as OutputFile
	// rows (storeFiles) and announced by FILES.
	Files    []executor.File `json:"-"`
	Duration time.Duration   `json:"duration"`
}

// ExecError is the Python exception a program raised.
type ExecError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// Line is the line of the program that raised (0: unknown).
	Line int `json:"line,omitempty"`
	// Agent is the agent whose block raised (answers combine the agents'
	// blocks).
	Agent     string `json:"agent,omitempty"`
	Traceback string `json:"traceback,omitempty"`
}

// Table is a DataFrame that a program displayed or printed.
type Table struct {
	Columns []string `json:"columns"`
	// Rows are the rows' cells in the order of Columns: numbers (float64),
	// strings, booleans or nil.
	Rows      [][]any `json:"rows"`
	Truncated bool    `json:"truncated,omitempty"`
}

// DecodeResult reads what EncodeResult stored: nil for nothing stored.
func DecodeResult(stored string) (*Result, error) {
	if stored == "" {
		return nil, nil
	}
	var res Result
	if err := json.Unmarshal([]byte(stored), &res); err != nil {
		return nil, fmt.Errorf("decode a stored execution result: %w", err)
	}
	return &res, nil
}

// encodeResult is EncodeResult with the service's bound.
func (s *Service) encodeResult(res *executor.Result) string {
	return EncodeResult(resultOf(res), s.cfg.MaxResultBytes)
}

// resultOf is the executor's result in the run service's terms (the same
// JSON).
func resultOf(res *executor.Result) *Result {
	if res == nil {
		return nil
	}
	out := &Result{
		OK: res.OK, Stdout: res.Stdout, Stderr: res.Stderr, Figures: res.Figures,
		Images: res.Images, Duration: res.Duration,
	}
	if res.Error != nil {
		e := ExecError(*res.Error)
		out.Error = &e
	}
	if res.Tables != nil {
		out.Tables = make([]Table, len(res.Tables))
		for i, t := range res.Tables {
			out.Tables[i] = Table(t)
		}
	}
	return out
}

func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// withNote appends a line to s.
func withNote(s, note string) string {
	if s != "" && s[len(s)-1] != '\n' {
		s += "\n"
	}
	return s + note
}
