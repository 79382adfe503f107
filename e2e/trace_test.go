package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver (protobuf, as the exporter
// sends by default) that keeps every span it is sent.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

// otlpSpan is a received span with the pid of the process that sent it.
type otlpSpan struct {
	Name, TraceID, SpanID, Parent string
	PID                           int64
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var msg coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &msg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			var pid int64
			for _, a := range rs.GetResource().GetAttributes() {
				if a.Key == "process.pid" {
					pid = a.GetValue().GetIntValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					r.spans = append(r.spans, otlpSpan{Name: s.Name, TraceID: hex.EncodeToString(s.TraceId),
						SpanID: hex.EncodeToString(s.SpanId), Parent: hex.EncodeToString(s.ParentSpanId), PID: pid})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// trace returns the spans received of one trace, by name.
func (r *otlpReceiver) trace(id string) map[string]otlpSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]otlpSpan{}
	for _, s := range r.spans {
		if s.TraceID == id {
			out[s.Name] = s
		}
	}
	return out
}

// TestTraceAcrossProcesses: in the scaled-out mode, one trace goes from a
// client's traceparent through the API node's GraphQL operation and the
// run's enqueue, through Redis (the job carries the trace context), to the
// worker process's run and its execution; each process exports its own
// spans (OTLP/HTTP), told apart by process.pid.
func TestTraceAcrossProcesses(t *testing.T) {
	rcv := newOTLPReceiver(t)
	c := newCluster(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rcv.srv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100",
	})
	api, worker := c.api(), c.worker()
	token, chatID := chatWithData(t, api)

	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	h := http.Header{"Traceparent": {fmt.Sprintf("00-%s-%s-01", traceID, parent)}}
	resp := api.doWith(h, token, fmt.Sprintf(`mutation TraceMe { executeCode(input: {chatID: %q, code: "print(6*7)"}) { id } }`, chatID))
	if len(resp.Errors) > 0 {
		t.Fatalf("executeCode: %+v", resp.Errors)
	}
	var run struct {
		ExecuteCode struct{ ID string } `json:"executeCode"`
	}
	if err := json.Unmarshal(resp.Data, &run); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for runStatus(t, api, token, run.ExecuteCode.ID) != "SUCCEEDED" {
		if time.Now().After(deadline) {
			t.Fatal("the run did not complete")
		}
		time.Sleep(100 * time.Millisecond)
	}

	want := []string{"graphql.mutation TraceMe", "run.enqueue", "run", "execution"}
	var spans map[string]otlpSpan
	for ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second); ; {
		spans = rcv.trace(traceID)
		if len(spans) >= len(want) && spans["execution"].Name != "" {
			cancel()
			break
		}
		select {
		case <-ctx.Done():
			cancel()
			t.Fatalf("spans of trace %s: %+v, want %v", traceID, spans, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
	op, enq, rn, ex := spans[want[0]], spans[want[1]], spans[want[2]], spans[want[3]]
	for _, tc := range []struct {
		span     otlpSpan
		parent   string
		pid      int
		describe string
	}{
		{op, parent, api.cmd.Process.Pid, "the operation continues the client's traceparent, on the API node"},
		{enq, op.SpanID, api.cmd.Process.Pid, "the enqueue is the operation's child, on the API node"},
		{rn, enq.SpanID, worker.cmd.Process.Pid, "the run continues the job's trace context, on the worker"},
		{ex, rn.SpanID, worker.cmd.Process.Pid, "the execution is the run's child, on the worker"},
	} {
		if tc.span.Parent != tc.parent || tc.span.PID != int64(tc.pid) {
			t.Errorf("%s: span %+v, want parent %s and pid %d", tc.describe, tc.span, tc.parent, tc.pid)
		}
	}
	// The worker's lines about the run name its trace.
	if !bytes.Contains([]byte(worker.logs.String()), []byte(`"trace_id":"`+traceID+`"`)) {
		t.Error("the worker's log lines do not name the run's trace")
	}
}
