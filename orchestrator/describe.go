package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// maxDescribeDatasets bounds the datasets one description covers.
const maxDescribeDatasets = 10

// describeAgent names the step (usage rows) and the agent (events) of a
// description.
const describeAgent = "describe_datasets"

// DescribeDatasets starts a run, without a chat, in which the model describes
// 1 to 10 of the viewer's datasets from their stored profiles. The
// description streams as TOKEN events and is the text of the AGENT_FINISHED
// event. Another user's dataset is not found.
func (s *Service) DescribeDatasets(ctx context.Context, ids []string) (*ent.Run, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	ids = dedupe(ids)
	if len(ids) < 1 || len(ids) > maxDescribeDatasets {
		return nil, errcode.Field("ids", "name 1 to %d datasets", maxDescribeDatasets)
	}
	found, err := s.cfg.DB.Dataset.Query().Where(dataset.IDIn(ids...), dataset.UserID(v.UserID)).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("load datasets: %w", err)
	}
	if len(found) != len(ids) {
		have := make(map[string]bool, len(found))
		for _, id := range found {
			have[id] = true
		}
		for _, id := range ids {
			if !have[id] {
				return nil, &errcode.Error{Code: errcode.NotFound, Field: "ids", Message: fmt.Sprintf("dataset %s not found", id)}
			}
		}
	}
	return s.start(ctx, run.KindDESCRIBE_DATASETS, "", runInput{DatasetIDs: ids}, "")
}

// describeDatasetsRun is the DESCRIBE_DATASETS run: one model call on the
// datasets' profiles, streamed.
func (s *Service) describeDatasetsRun(rc *runContext) error {
	ds, err := s.cfg.DB.Dataset.Query().Where(dataset.IDIn(rc.in.DatasetIDs...), dataset.UserID(rc.run.UserID)).All(rc.user)
	if err != nil {
		return fmt.Errorf("load datasets: %w", err)
	}
	byID := make(map[string]*ent.Dataset, len(ds))
	for _, d := range ds {
		byID[d.ID] = d
	}
	ordered := make([]*ent.Dataset, 0, len(ds))
	for _, id := range rc.in.DatasetIDs {
		d, ok := byID[id]
		if !ok {
			return &runError{code: CodeBadInput, msg: fmt.Sprintf("dataset %s was deleted", id)}
		}
		ordered = append(ordered, d)
	}
	mc, err := s.runModel(rc)
	if err != nil {
		return err
	}
	s.recordModel(rc, mc)
	t := &turn{rc: rc, model: mc, provider: s.metered(mc.Provider)}
	prompt, err := s.describePrompt(ordered)
	if err != nil {
		return err
	}
	rc.emit(EventAgentStarted, eventData{Agent: describeAgent, Text: fmt.Sprintf("describing %d dataset(s)", len(ordered))})
	answer, err := s.call(t, describeAgent, prompt, func(chunk string) {
		rc.emit(EventToken, eventData{Agent: describeAgent, Text: chunk})
	})
	if err != nil {
		return err
	}
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return &runError{code: CodeModelError, msg: "the model answered with an empty description"}
	}
	rc.emit(EventAgentFinished, eventData{Agent: describeAgent, Text: answer})
	return nil
}

// describePrompt renders prompts/describe.txt for datasets.
func (s *Service) describePrompt(ds []*ent.Dataset) (string, error) {
	return render(s.prompts.describe, map[string]any{"Count": len(ds), "Datasets": profileText(ds)})
}

// maxProfileColumns bounds the columns of one dataset told to the model.
const maxProfileColumns = 80

// profileText tells the model what each dataset's profile says.
func profileText(ds []*ent.Dataset) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "## %s: %d rows, %d columns, from %s", d.Name, d.RowCount, len(d.Columns), d.FileName)
		if d.Sheet != "" {
			fmt.Fprintf(&b, " (sheet %q)", d.Sheet)
		}
		b.WriteString("\n")
		if d.Description != "" {
			fmt.Fprintf(&b, "The user's description: %s\n", truncate(d.Description, 1000))
		}
		for i, c := range d.Columns {
			if i == maxProfileColumns {
				fmt.Fprintf(&b, "- ... (%d more columns)\n", len(d.Columns)-maxProfileColumns)
				break
			}
			fmt.Fprintf(&b, "- %s (%s): %d missing", c.Name, c.Dtype, c.NullCount)
			if c.DistinctCount != nil {
				fmt.Fprintf(&b, ", %d distinct", *c.DistinctCount)
			}
			if c.Min != nil && c.Max != nil {
				fmt.Fprintf(&b, ", from %s to %s", formatNumber(*c.Min), formatNumber(*c.Max))
			}
			if len(c.TopValues) > 0 {
				b.WriteString(", most frequent: ")
				for j, v := range c.TopValues {
					if j > 0 {
						b.WriteString(", ")
					}
					q, _ := json.Marshal(truncate(v.Value, 60))
					fmt.Fprintf(&b, "%s (%d)", q, v.Count)
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// formatNumber writes a number briefly: integers without a decimal point.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'g', 10, 64)
}

// dedupe returns ids without repeats, in first-seen order.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
