package executor

import (
	"fmt"
	"regexp"
)

// FrameFormat is how a frame is serialised in the sandbox.
type FrameFormat string

// Frame formats.
const (
	// FrameCSV is UTF-8 CSV with a header row and without the index (an
	// index that is not a plain 0, 1, 2, ... range becomes columns).
	FrameCSV FrameFormat = "csv"
	// FrameXLSX is an Excel workbook of one sheet, "data", its header in
	// the first row; no cell is a formula.
	FrameXLSX FrameFormat = "xlsx"
)

// FrameRequest asks an execution for one of its DataFrames: once the code
// has run, the variable it names (a DataFrame, or a Series made a one-column
// frame) is serialised by the kernel, inside the sandbox, and sent back as
// Result.Frame in place of what the code showed (no figures, tables or
// files). The server gets bytes, never a Python object.
type FrameRequest struct {
	// Variable is the frame's name in the code's globals: a Python
	// identifier (ValidVariable).
	Variable string      `json:"variable"`
	Format   FrameFormat `json:"format"`
	// Neutralise prefixes with a single quote every text cell and header
	// that a spreadsheet would run as a formula (starting with =, +, -, @,
	// a tab or a carriage return), and quotes every text cell of a CSV:
	// for files people open in spreadsheets. Numbers stay numbers.
	Neutralise bool `json:"neutralise,omitempty"`
	// MaxBytes bounds the serialised frame (0: what one execution may
	// return, three quarters of Config.MaxResultBytes, which also bounds
	// a larger MaxBytes).
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// FrameProblem says why a frame could not be had.
type FrameProblem string

// Frame problems.
const (
	// FrameMissing: the code leaves no variable of that name.
	FrameMissing FrameProblem = "missing"
	// FrameNotFrame: the variable is not a DataFrame or a Series.
	FrameNotFrame FrameProblem = "not_frame"
	// FrameTooLarge: the serialised frame is over its limit (or over an
	// Excel sheet's rows or columns).
	FrameTooLarge FrameProblem = "too_large"
	// FrameFailed: the frame could not be serialised (Message says why).
	FrameFailed FrameProblem = "failed"
)

// Frame is the frame a FrameRequest asked for: its bytes, rows and columns,
// or, when Problem is set, why it could not be had (Message, and the Limit
// in bytes it was held to).
type Frame struct {
	Data    []byte       `json:"data,omitempty"`
	Rows    int64        `json:"rows,omitempty"`
	Columns int          `json:"columns,omitempty"`
	Problem FrameProblem `json:"problem,omitempty"`
	Message string       `json:"message,omitempty"`
	Limit   int64        `json:"limit,omitempty"`
}

// identifier is a Python identifier (ASCII).
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pythonKeywords are Python's keywords (hard ones), which name no variable.
var pythonKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

// IsKeyword reports whether name is one of Python's (hard) keywords. It is
// safe for concurrent use.
func IsKeyword(name string) bool { return pythonKeywords[name] }

// IsIdentifier reports whether name is an ASCII Python identifier that is
// not a keyword: what can name a variable, a dataset or an agent. It is
// safe for concurrent use.
func IsIdentifier(name string) bool {
	return identifier.MatchString(name) && !pythonKeywords[name]
}

// MaxVariableLen is the longest variable name a FrameRequest may give.
const MaxVariableLen = 100

// ValidVariable reports whether name can name a variable of the code: an
// ASCII Python identifier of at most MaxVariableLen characters, not a
// keyword.
func ValidVariable(name string) bool {
	return len(name) <= MaxVariableLen && IsIdentifier(name)
}

// check validates a frame request.
func (f *FrameRequest) check() error {
	if !ValidVariable(f.Variable) {
		return fmt.Errorf("%w: %q is not a Python identifier", ErrInvalidRequest, f.Variable)
	}
	if f.Format != FrameCSV && f.Format != FrameXLSX {
		return fmt.Errorf("%w: unknown frame format %q", ErrInvalidRequest, f.Format)
	}
	if f.MaxBytes < 0 {
		return fmt.Errorf("%w: negative frame limit", ErrInvalidRequest)
	}
	return nil
}
