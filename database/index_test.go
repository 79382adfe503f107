package database

import (
	"context"
	"strings"
	"testing"

	"entgo.io/ent/dialect"
)

// TestIndexedLookups: the lookups a chat turn makes on tables that grow
// with every turn use an index, in both dialects, rather than scanning the
// table. PostgreSQL is told to avoid scans where it can, so that a small
// table still shows whether an index exists.
func TestIndexedLookups(t *testing.T) {
	lookups := []struct {
		name, query string
	}{
		{"a run's answer (storeAnswer)", "SELECT id FROM messages WHERE run_id = 'run_x' AND sender = 'AI'"},
		{"a run's output files (attachFiles)", "SELECT id FROM output_files WHERE run_id = 'run_x'"},
		{"a run's usage rows (runUsage)", "SELECT id FROM model_usages WHERE run_id = 'run_x'"},
	}
	for _, d := range testDialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, d.url(t), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			conn, err := db.SQL.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			explain := "EXPLAIN QUERY PLAN "
			if d.dialect == dialect.Postgres {
				explain = "EXPLAIN "
				if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range lookups {
				rows, err := conn.QueryContext(ctx, explain+l.query)
				if err != nil {
					t.Fatal(err)
				}
				var plan []string
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					for _, v := range vals {
						switch v := v.(type) {
						case string:
							plan = append(plan, v)
						case []byte:
							plan = append(plan, string(v))
						}
					}
				}
				rows.Close()
				text := strings.Join(plan, "\n")
				if strings.Contains(text, "Seq Scan") || strings.Contains(text, "SCAN messages") ||
					strings.Contains(text, "SCAN output_files") || strings.Contains(text, "SCAN model_usages") ||
					!strings.Contains(strings.ToLower(text), "index") {
					t.Errorf("%s: the plan scans the table:\n%s", l.name, text)
				}
			}
		})
	}
}
