package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/executor"
)

// chatDatasets loads a chat with its datasets, oldest first (the first is df).
func (s *Service) chatDatasets(rc *runContext) (*ent.Chat, []executor.Dataset, error) {
	if rc.run.ChatID == nil {
		return nil, nil, &runError{code: CodeBadInput, msg: "the run has no chat"}
	}
	c, err := s.cfg.DB.Chat.Query().Where(chat.ID(*rc.run.ChatID)).
		WithDatasets(func(q *ent.DatasetQuery) { q.Order(ent.Asc(dataset.FieldCreatedAt), ent.Asc(dataset.FieldID)) }).
		Only(rc.user)
	if err != nil {
		return nil, nil, fmt.Errorf("load chat %s: %w", *rc.run.ChatID, err)
	}
	files, err := s.cfg.Files.Files(rc.user, c.Edges.Datasets)
	if err != nil {
		return nil, nil, err
	}
	return c, files, nil
}

// run executes code in the chat's kernel and emits EXECUTION_STARTED and
// EXECUTION_RESULT. A Python exception is a result, not an error.
func (s *Service) runCode(rc *runContext, ctx context.Context, key string, files []executor.Dataset, code, agent string) (*executor.Result, error) {
	rc.emit(EventExecutionStarted, EventData{Code: code, Agent: agent})
	res, err := s.cfg.Executor.Execute(ctx, executor.Request{Key: key, Datasets: files, Code: code, Timeout: s.cfg.ExecTimeout})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, executor.ErrSandboxUnavailable) {
			return nil, err
		}
		return nil, &runError{code: CodeExecutionError, msg: "the code could not be executed: " + err.Error(), err: err}
	}
	rc.emit(EventExecutionResult, EventData{Result: res, Agent: agent})
	return res, nil
}

// executeCode is the EXECUTE_CODE run: the user's code in the chat's kernel.
func (s *Service) executeCode(rc *runContext) error {
	c, files, err := s.chatDatasets(rc)
	if err != nil {
		return err
	}
	res, err := s.runCode(rc, rc.user, c.ID, files, rc.in.Code, "")
	if err != nil {
		return err
	}
	if !res.OK {
		return &runError{code: CodeExecutionError, msg: describeError(res)}
	}
	return nil
}

// describeError is a one-line account of a failed execution.
func describeError(res *executor.Result) string {
	if res.Error == nil {
		return "the code failed"
	}
	var b strings.Builder
	b.WriteString(res.Error.Type)
	if res.Error.Message != "" {
		b.WriteString(": ")
		b.WriteString(res.Error.Message)
	}
	if res.Error.Agent != "" {
		fmt.Fprintf(&b, " (in %s", res.Error.Agent)
		if res.Error.Line > 0 {
			fmt.Fprintf(&b, ", line %d", res.Error.Line)
		}
		b.WriteString(")")
	} else if res.Error.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", res.Error.Line)
	}
	return b.String()
}
