package orchestrator

import (
	"bytes"
	"encoding/json"
	"fmt"

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
func EncodeResult(res *executor.Result, maxResult int64) string {
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

// DecodeResult reads what EncodeResult stored: nil for nothing stored.
func DecodeResult(stored string) (*executor.Result, error) {
	if stored == "" {
		return nil, nil
	}
	var res executor.Result
	if err := json.Unmarshal([]byte(stored), &res); err != nil {
		return nil, fmt.Errorf("decode a stored execution result: %w", err)
	}
	return &res, nil
}

// encodeResult is EncodeResult with the service's bound.
func (s *Service) encodeResult(res *executor.Result) string {
	return EncodeResult(res, s.cfg.MaxResultBytes)
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
