package executor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The wire protocol between Go and a kernel (see kernel/protocol.py): frames on a Unix
// stream socket (fd 3 in the kernel), in both directions
//
//	u32 header length | header JSON | u32 body length | body
//
// with big-endian lengths. File descriptors of datasets travel as SCM_RIGHTS
// ancillary data with the frame that names them.

const (
	maxHeaderBytes = 64 << 20
	maxBodyBytes   = 512 << 20
)

// request is a frame header sent to a kernel.
type request struct {
	Op       string        `json:"op"`
	ID       uint64        `json:"id"`
	Code     string        `json:"code,omitempty"`
	Timeout  float64       `json:"timeout,omitempty"`
	Datasets []datasetSpec `json:"datasets,omitempty"`
	Dataset  *datasetSpec  `json:"dataset,omitempty"`
	// Frame asks an exec for one of the code's frames (FrameRequest).
	Frame *FrameRequest `json:"frame,omitempty"`
	// Limit is the number of rows a preview returns.
	Limit int `json:"limit,omitempty"`
	// ParsedMax, on a profile, asks for the dataset's parsed form, of at
	// most this many bytes, written to a second descriptor after the file's.
	ParsedMax int64 `json:"parsed_max,omitempty"`
	// Probe marks the executor's self-test execution: the kernel stays as
	// it started (no spares forked, the heap's reserve kept), ready to
	// become a chat's kernel.
	Probe bool `json:"probe,omitempty"`
}

// datasetSpec describes a dataset whose file descriptor accompanies a request.
type datasetSpec struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Sheet  string `json:"sheet,omitempty"`
	// Columns are the columns to keep, in order (empty: all).
	Columns []string `json:"columns,omitempty"`
	// Parsed, in a load, says that the dataset's parsed form follows its
	// file's descriptor.
	Parsed bool `json:"parsed,omitempty"`
}

// reply is a frame header received from a kernel; Body is the frame's body.
type reply struct {
	Type    string `json:"type"`
	ID      uint64 `json:"id"`
	Message string `json:"message,omitempty"`

	// ready
	Isolated      bool    `json:"isolated,omitempty"`
	Python        string  `json:"python,omitempty"`
	ImportSeconds float64 `json:"import_seconds,omitempty"`
	Seccomp       int     `json:"seccomp,omitempty"` // the kernel's seccomp mode (2: filtered)

	// ready and loaded: the kernel's own (anonymous) memory, in bytes
	Memory int64 `json:"memory,omitempty"`

	// loaded
	Datasets []loadedDataset `json:"datasets,omitempty"`

	// result
	Status          string  `json:"status,omitempty"`
	ExitCode        int     `json:"exit_code,omitempty"`
	Signal          int     `json:"signal,omitempty"`
	CPUSeconds      float64 `json:"cpu_seconds,omitempty"`
	Elapsed         float64 `json:"elapsed,omitempty"`
	Stdout          string  `json:"stdout,omitempty"`
	Stderr          string  `json:"stderr,omitempty"`
	StdoutTruncated bool    `json:"stdout_truncated,omitempty"`
	StderrTruncated bool    `json:"stderr_truncated,omitempty"`

	Body []byte `json:"-"`
}

type loadedDataset struct {
	Name    string `json:"name"`
	Rows    int64  `json:"rows"`
	Columns int    `json:"columns"`
}

// childResult is the body of a "result" reply: what the forked child wrote.
type childResult struct {
	OK              bool              `json:"ok"`
	Error           *Error            `json:"error"`
	Figures         []json.RawMessage `json:"figures"`
	Images          []string          `json:"images"`
	Tables          []Table           `json:"tables"`
	Files           []File            `json:"files"`
	Frame           *Frame            `json:"frame"`
	StdoutTruncated bool              `json:"stdout_truncated"`
	StderrTruncated bool              `json:"stderr_truncated"`
	Internal        string            `json:"internal"`
	Profile         *Profile          `json:"profile"`
	Preview         *Preview          `json:"preview"`
	Inspection      *Inspection       `json:"inspection"`
	// Parsed is what a profile asked for a parsed form wrote of it.
	Parsed *ParsedForm `json:"parsed"`
}

// encodeFrame serialises one frame.
func encodeFrame(header any, body []byte) ([]byte, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 8+len(h)+len(body))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(h)))
	buf = append(buf, h...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)))
	buf = append(buf, body...)
	return buf, nil
}

// readFrame reads one frame from a kernel.
func readFrame(r *bufio.Reader) (*reply, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	hl := binary.BigEndian.Uint32(n[:])
	if hl > maxHeaderBytes {
		return nil, fmt.Errorf("frame header of %d bytes exceeds the limit", hl)
	}
	h := make([]byte, hl)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, unexpectedEOF(err)
	}
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, unexpectedEOF(err)
	}
	bl := binary.BigEndian.Uint32(n[:])
	if bl > maxBodyBytes {
		return nil, fmt.Errorf("frame body of %d bytes exceeds the limit", bl)
	}
	var body []byte
	if bl > 0 {
		body = make([]byte, bl)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	rep := &reply{}
	if err := json.Unmarshal(h, rep); err != nil {
		return nil, fmt.Errorf("invalid frame header: %w", err)
	}
	rep.Body = body
	return rep, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
