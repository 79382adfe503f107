package executor

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestLogFor: lines about an execution go to the logger its context
// carries (a run's: run id, user, trace), with the kernel's fields; without
// one, to the kernel's own logger.
func TestLogFor(t *testing.T) {
	var own, run bytes.Buffer
	k := &kernel{id: 7, log: zerolog.New(&own).With().Uint64("kernel", 7).Logger()}
	rl := zerolog.New(&run).With().Str("run", "r1").Str("trace_id", "abc").Logger()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		buf  *bytes.Buffer
		want []string
	}{
		{"run", rl.WithContext(context.Background()), &run, []string{`"run":"r1"`, `"trace_id":"abc"`, `"kernel":7`, `"component":"executor"`}},
		{"none", context.Background(), &own, []string{`"kernel":7`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.logFor(tc.ctx).Warn().Msg("kernel did not confirm a cancellation")
			line := tc.buf.String()
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %s lacks %s", line, w)
				}
			}
		})
	}
}
