package executor

import (
	"encoding/json"
	"time"

	"github.com/autoanalyst/autoanalyst/column"
)

// Dataset is a file to load into a kernel as a pandas DataFrame.
type Dataset struct {
	// Name is the Python variable (a valid identifier, at most 30 characters).
	Name string `json:"name"`
	// Path is the file on the host; it is mounted read-only inside the sandbox.
	Path string `json:"path"`
	// Format is "csv", "xlsx", "xls" (legacy Excel, read with xlrd) or "json".
	Format string `json:"format"`
	// Sheet selects an Excel sheet (empty: the first).
	Sheet string `json:"sheet,omitempty"`
	// Columns keeps only these columns, in this order (empty: all). When the
	// file no longer has one of them, every column is kept.
	Columns []string `json:"columns,omitempty"`
	// Parsed is the dataset's parsed form on the host (optional): the file
	// ProfileParsed wrote, a pickle of the cleaned DataFrame with every
	// column, its format and sheet. A kernel that loads the dataset reads
	// it in place of Path (Columns applied as to the file), and reads Path
	// when it cannot: a parsed form of another version, format or sheet, a
	// corrupt one, one a newer pandas cannot read. A Parsed that does not
	// exist or cannot be opened is ignored. Profile, Preview and Inspect
	// read Path only.
	Parsed string `json:"parsed,omitempty"`
}

// ParsedForm is what ProfileParsed wrote of a dataset's parsed form.
type ParsedForm struct {
	// Bytes is its size (0: none was written).
	Bytes int64 `json:"bytes"`
	// Problem says why none was written (empty when one was).
	Problem string `json:"problem,omitempty"`
}

// Request is one execution.
type Request struct {
	// Key identifies the kernel (a chat): executions with the same key and the
	// same datasets share a warm kernel.
	Key      string
	Datasets []Dataset
	Code     string
	// Timeout bounds the wall time of this execution (0: the executor's default).
	Timeout time.Duration
	// Frame, when set, asks for one of the code's DataFrames once it has
	// run (Result.Frame), in place of its figures, tables and files.
	Frame *FrameRequest
}

// Error is a Python exception raised by the executed code.
type Error struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Line      int    `json:"line,omitempty"`
	Agent     string `json:"agent,omitempty"`
	Traceback string `json:"traceback,omitempty"`
}

// Error formats the exception as Python prints its last line: "Type: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// Table is a DataFrame that the code displayed or printed.
type Table struct {
	Columns   []string `json:"columns"`
	Rows      [][]any  `json:"rows"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Result is what an execution produced.
type Result struct {
	OK     bool   `json:"ok"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Error  *Error `json:"error,omitempty"`
	// Figures are Plotly figure JSON documents.
	Figures []json.RawMessage `json:"figures"`
	// Images are PNG images (matplotlib), base64-encoded.
	Images []string `json:"images,omitempty"`
	Tables []Table  `json:"tables,omitempty"`
	// Files are what the code left in its output folder, /tmp/outputs
	// (Config.OutputMaxFiles, OutputMaxBytes); not part of the JSON.
	Files []File `json:"-"`
	// Frame is the frame Request.Frame asked for, when the code succeeded
	// (nil otherwise); not part of the JSON.
	Frame    *Frame        `json:"-"`
	Duration time.Duration `json:"duration"`
}

// File is a file an execution wrote to its output folder (/tmp/outputs),
// read inside the sandbox by the execution's own process: a regular file,
// its name made safe (letters, digits, ".", "_", "-"; a file in a
// subfolder is named after its path).
type File struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Data []byte `json:"data"`
}

// Preview is the first rows of a dataset as the kernel reads it; a cell is
// its text, or nil when missing.
type Preview struct {
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"`
}

// Inspection is what a file looks like before it is stored: its Excel
// sheets, the encoding and delimiter found for CSV, and the headers and
// first rows (of the first sheet, or the one asked for) as text.
type Inspection struct {
	Sheets    []string   `json:"sheets"`
	Encoding  string     `json:"encoding"`
	Delimiter string     `json:"delimiter"`
	Headers   []string   `json:"headers"`
	Rows      [][]string `json:"rows"`
}

// Profile describes a dataset.
type Profile struct {
	RowCount int64            `json:"rowCount"`
	Columns  []column.Profile `json:"columns"`
}

// keptFiles is files within the limits, checked again on this side: at most
// maxFiles, maxBytes together, each with a name the kernel would give and
// its size its data's. Those past them are dropped.
func keptFiles(files []File, maxFiles int, maxBytes int64) []File {
	var out []File
	var total int64
	seen := map[string]bool{}
	for _, f := range files {
		if len(out) >= maxFiles {
			break
		}
		if !SafeFileName(f.Name) || seen[f.Name] || int64(len(f.Data)) != f.Size || total+f.Size > maxBytes {
			continue
		}
		seen[f.Name] = true
		total += f.Size
		out = append(out, f)
	}
	return out
}

// SafeFileName reports whether name is a name an output file may have:
// 1 to 120 letters, digits, ".", "_" and "-", not starting with a dot.
func SafeFileName(name string) bool {
	if name == "" || len(name) > 120 || name[0] == '.' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
