package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReadsApart checks the dataset reads' own limits on a dedicated
// Executor: their slots, apart from the executions' (a read goes on while
// the only execution slot is held), their time limit (ReadTimeout, after
// which the reader kernel still reads) and the limits the kernel is given
// (MaxColumns), each refusal an ErrDatasetLimit naming its setting.
func TestReadsApart(t *testing.T) {
	e := newExecutor(t, Config{Sandbox: true, MaxConcurrent: 1, ReadConcurrency: 1, ReadTimeout: 250 * time.Millisecond,
		MaxColumns: 3, DisableSpare: true})
	small := Dataset{Path: writeFile(t, "small.csv", []byte("a,b\n1,2\n")), Format: "csv"}
	ctx := context.Background()
	// Start the reader kernel and a chat's: the timings below are not a
	// Python start-up's.
	if _, err := e.Profile(ctx, small); err != nil {
		t.Fatal(err)
	}
	runOK(t, e, "chat", nil, "x = 1")

	t.Run("slots of their own", func(t *testing.T) {
		type outcome struct {
			res *Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := e.Execute(ctx, Request{Key: "chat", Code: "import time\ntime.sleep(5)"})
			done <- outcome{res, err}
		}()
		time.Sleep(300 * time.Millisecond) // the execution holds the only slot
		start := time.Now()
		if _, err := e.Profile(ctx, small); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("a read waited %s for an execution's slot", took.Round(time.Millisecond))
		}
		if o := <-done; o.err != nil || !o.res.OK {
			t.Errorf("the execution: %v %+v", o.err, o.res)
		}
	})

	t.Run("time limit", func(t *testing.T) {
		var slow bytes.Buffer
		slow.WriteString("id,name,value\n")
		for i := range 1_000_000 {
			fmt.Fprintf(&slow, "%d,name %d,%d.5\n", i, i, i%1000)
		}
		ds := Dataset{Path: writeFile(t, "slow.csv", slow.Bytes()), Format: "csv"}
		start := time.Now()
		_, err := e.Profile(ctx, ds)
		took := time.Since(start)
		wantLimit(t, err, "the file took longer than 250ms to read (DATASET_READ_TIMEOUT)")
		if took > 5*time.Second {
			t.Errorf("refused after %s", took.Round(time.Millisecond))
		}
		if _, err := e.Profile(ctx, small); err != nil {
			t.Errorf("the next read: %v", err)
		}
	})

	t.Run("columns", func(t *testing.T) {
		wide := Dataset{Path: writeFile(t, "wide.csv", []byte("a,b,c,d\n1,2,3,4\n")), Format: "csv"}
		_, err := e.Profile(ctx, wide)
		wantLimit(t, err, "the file has 4 columns, more than the limit of 3 (DATASET_MAX_COLUMNS)")
		_, err = e.Preview(ctx, wide, 5)
		wantLimit(t, err, "DATASET_MAX_COLUMNS")
		_, err = e.Inspect(ctx, wide)
		wantLimit(t, err, "DATASET_MAX_COLUMNS")
	})
}

// wantLimit fails the test unless err is an ErrDatasetLimit (an
// ErrDatasetLoad) whose Python error's message contains want.
func wantLimit(t *testing.T, err error, want string) {
	t.Helper()
	var perr *Error
	if !errors.Is(err, ErrDatasetLimit) || !errors.Is(err, ErrDatasetLoad) || !errors.As(err, &perr) || !strings.Contains(perr.Message, want) {
		t.Errorf("got %v, want ErrDatasetLimit saying %q", err, want)
	}
}
