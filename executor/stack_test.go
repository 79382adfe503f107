package executor

import (
	"strings"
	"testing"
)

// TestScientificStackOnFirstUse: a kernel imports scipy, scikit-learn and
// statsmodels only once an execution names them (its forks stay light until
// then); from then on its executions fork with them; and code that reaches
// them without naming them imports them in its own process.
func TestScientificStackOnFirstUse(t *testing.T) {
	e := shared(t)
	const key = "stack-on-first-use"
	// Names none of the parts: what did the execution's process inherit?
	const inherited = "import sys\nprint(sorted({m.split('.')[0] for m in sys.modules} & {'sk' + 'learn', 'sci' + 'py', 'stats' + 'models'}))"
	steps := []struct {
		name, code, want string
	}{
		{"a new kernel has none", inherited, "[]"},
		{"reached without being named: imported by the execution", "g = globals()\nprint(g['st' + 'ats'].norm.cdf(0), type(g['st' + 'ats']).__name__)", "0.5 module"},
		{"still none in the kernel", inherited, "[]"},
		{"named: imported by the kernel first", "from sklearn.linear_model import LinearRegression\nprint(LinearRegression().fit([[0], [1]], [0, 2]).coef_[0].round(3))", "2.0"},
		{"the next execution inherits it", inherited, "['scipy', 'sklearn']"},
		{"statsmodels through its global", "print(round(sm.OLS([0.0, 2.0], sm.add_constant([0.0, 1.0])).fit().params[1], 3))", "2.0"},
		{"all three inherited", inherited, "['scipy', 'sklearn', 'statsmodels']"},
	}
	for _, st := range steps {
		res := run(t, e, key, sales, st.code)
		if !res.OK || res.Error != nil {
			t.Fatalf("%s: failed: %+v\nstderr: %s", st.name, res.Error, res.Stderr)
		}
		if got := strings.TrimSpace(res.Stdout); got != st.want {
			t.Fatalf("%s: stdout %q, want %q", st.name, got, st.want)
		}
	}
}
