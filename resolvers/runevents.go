package resolvers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/graph/model"
	"github.com/autoanalyst/autoanalyst/orchestrator"
)

// followRun streams a run's events after a sequence number, as the run
// service follows the run, each mapped to its GraphQL type.
func (r *Resolver) followRun(ctx context.Context, runID string, after *int) (<-chan *model.RunEvent, error) {
	from := int64(0)
	if after != nil {
		from = int64(*after)
	}
	out := make(chan *model.RunEvent, 16)
	send := func(e *orchestrator.Event) bool {
		select {
		case out <- toRunEvent(e):
			return true
		case <-ctx.Done():
			return false
		}
	}
	if err := r.Runs.Follow(ctx, runID, from, send, func() { close(out) }); err != nil {
		return nil, err
	}
	return out, nil
}

// toRunEvent maps a run's event.
func toRunEvent(e *orchestrator.Event) *model.RunEvent {
	ev := &model.RunEvent{
		Seq:       int(e.Seq),
		Type:      model.RunEventType(e.Type),
		At:        e.At,
		Agent:     str(e.Agent),
		Text:      str(e.Text),
		Code:      str(e.Code),
		Progress:  e.Progress,
		ErrorCode: runErrorCode(e.ErrorCode),
		MessageID: str(e.MessageID),
		Plan:      toPlan(e.Plan),
		FollowUps: e.FollowUps,
	}
	for _, f := range e.Files {
		ev.Files = append(ev.Files, &ent.OutputFile{ID: f.ID, Name: f.Name, Size: f.Size, MediaType: f.MediaType, CreatedAt: e.At})
	}
	if e.Result != nil {
		ev.Result = toExecutionResult(e.Result)
	}
	return ev
}

// runErrorCode maps an event's error code to the enum: none is nil, and a
// code the enum lacks (an event of another version) is INTERNAL.
func runErrorCode(code string) *model.RunErrorCode {
	if code == "" {
		return nil
	}
	c := model.RunErrorCode(code)
	if !c.IsValid() {
		c = model.RunErrorCodeInternal
	}
	return &c
}

// toPlan maps a plan (nil stays nil). A complexity the enum lacks counts as
// INTERMEDIATE, as the rater's unreadable answers do.
func toPlan(p *orchestrator.Plan) *model.Plan {
	if p == nil {
		return nil
	}
	c := model.PlanComplexity(strings.ToUpper(p.Complexity))
	if !c.IsValid() {
		c = model.PlanComplexityIntermediate
	}
	out := &model.Plan{Complexity: c, Steps: make([]*model.PlanStep, 0, len(p.Steps))}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, &model.PlanStep{Agent: s.Agent, Instruction: s.Instruction, Create: s.Create, Use: s.Use})
	}
	return out
}

// deepPlan reads the plan a report stores as JSON: null before the planning
// step, and (logged) when it cannot be read.
func (r *Resolver) deepPlan(rep *ent.DeepAnalysisReport) *model.Plan {
	if strings.TrimSpace(rep.DeepPlan) == "" {
		return nil
	}
	var p orchestrator.Plan
	if err := json.Unmarshal([]byte(rep.DeepPlan), &p); err != nil {
		r.Logger.Warn().Err(err).Str("report", rep.ID).Msg("unreadable deep plan")
		return nil
	}
	return toPlan(&p)
}

// storedResult reads what an answer's code produced, stored with its code
// execution: null when nothing was stored, and (logged) when it cannot be
// read.
func (r *Resolver) storedResult(ce *ent.CodeExecution) *model.ExecutionResult {
	res, err := orchestrator.DecodeResult(ce.Result)
	if err != nil {
		r.Logger.Warn().Err(err).Str("execution", ce.ID).Msg("unreadable stored result")
	}
	if res == nil {
		return nil
	}
	return toExecutionResult(res)
}

// toExecutionResult maps what an execution produced, as events carry it and
// code executions store it.
func toExecutionResult(res *orchestrator.Result) *model.ExecutionResult {
	out := &model.ExecutionResult{
		Ok:         res.OK,
		Stdout:     res.Stdout,
		Stderr:     res.Stderr,
		Figures:    res.Figures,
		Images:     res.Images,
		Tables:     make([]*orchestrator.Table, 0, len(res.Tables)),
		DurationMs: int(res.Duration.Milliseconds()),
	}
	if out.Figures == nil {
		out.Figures = []json.RawMessage{}
	}
	if out.Images == nil {
		out.Images = []string{}
	}
	for i := range res.Tables {
		out.Tables = append(out.Tables, &res.Tables[i])
	}
	if e := res.Error; e != nil {
		msg := e.Type
		if e.Message != "" {
			msg += ": " + e.Message
		}
		out.Error = &msg
		out.ErrorType = str(e.Type)
		out.ErrorAgent = str(e.Agent)
		out.Traceback = str(e.Traceback)
		if e.Line > 0 {
			l := e.Line
			out.ErrorLine = &l
		}
	}
	return out
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
