package executor

import (
	"errors"
	"testing"

	"github.com/autoanalyst/autoanalyst/metrics"
)

func TestExecutionOutcome(t *testing.T) {
	for _, c := range []struct {
		res            *Result
		err            error
		outcome, limit string
	}{
		{nil, errors.New("kernel died"), metrics.ExecFailed, metrics.LimitNone},
		{&Result{OK: true}, nil, metrics.ExecOK, metrics.LimitNone},
		{&Result{Error: &Error{Type: "ValueError", Message: "no"}}, nil, metrics.ExecError, metrics.LimitNone},
		{&Result{Error: &Error{Type: "TimeoutError", Message: "the execution exceeded its time limit of 2s and was stopped"}}, nil, metrics.ExecError, metrics.LimitTimeout},
		{&Result{Error: &Error{Type: "TimeoutError", Message: "raised by the code"}}, nil, metrics.ExecError, metrics.LimitNone},
		{&Result{Error: &Error{Type: "MemoryError", Message: "the execution was killed (SIGKILL)"}}, nil, metrics.ExecError, metrics.LimitMemory},
		{&Result{Error: &Error{Type: "OutputLimitError"}}, nil, metrics.ExecError, metrics.LimitOutput},
		{&Result{Error: &Error{Type: "BlockingIOError", Message: "... its limit of 64 processes and threads, or its memory limit"}}, nil, metrics.ExecError, metrics.LimitProcesses},
		{&Result{Error: &Error{Type: "OSError", Message: "... the 64 MiB limit of /tmp and of any file it writes"}}, nil, metrics.ExecError, metrics.LimitTmp},
	} {
		if o, l := executionOutcome(c.res, c.err); o != c.outcome || l != c.limit {
			t.Errorf("%+v %v: %s %s, want %s %s", c.res, c.err, o, l, c.outcome, c.limit)
		}
	}
}
