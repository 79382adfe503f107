package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/codeexecution"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
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

// runCode executes code in the chat's kernel with EXEC_TIMEOUT and emits
// EXECUTION_STARTED and EXECUTION_RESULT, then stores the files the code
// wrote to /tmp/outputs (storeFiles: FILES). A Python exception is a
// result, not an error.
func (s *Service) runCode(rc *runContext, ctx context.Context, key string, files []executor.Dataset, code, agent string) (*executor.Result, error) {
	return s.runCodeWithin(rc, ctx, key, files, code, agent, s.cfg.ExecTimeout)
}

// runCodeWithin is runCode with a time limit of its own.
func (s *Service) runCodeWithin(rc *runContext, ctx context.Context, key string, files []executor.Dataset, code, agent string,
	limit time.Duration) (*executor.Result, error) {
	rc.emit(EventExecutionStarted, eventData{Code: code, Agent: agent})
	ctx, span := s.tracer.Start(ctx, "execution", trace.WithAttributes(attribute.Int64("execution.limit_ms", limit.Milliseconds())))
	start := time.Now()
	res, err := s.cfg.Executor.Execute(ctx, executor.Request{Key: key, Datasets: files, Code: code, Timeout: limit})
	outcome := "error"
	switch {
	case err != nil:
	case res.OK:
		outcome = "ok"
	default:
		outcome = "failed"
	}
	span.SetAttributes(attribute.String("execution.outcome", outcome),
		attribute.Int64("execution.duration_ms", time.Since(start).Milliseconds()))
	if outcome != "ok" {
		span.SetStatus(codes.Error, "execution "+outcome)
	}
	span.End()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, executor.ErrSandboxUnavailable) {
			return nil, err
		}
		return nil, &runError{code: CodeExecutionError, msg: "the code could not be executed: " + err.Error(), err: err}
	}
	rc.emit(EventExecutionResult, eventData{Result: res, Agent: agent})
	s.storeFiles(rc, ctx, res, rc.in.MessageID)
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
	if rc.in.MessageID != "" {
		if err := s.recordMessageCode(rc, c.ID, res); err != nil {
			return err
		}
	}
	if !res.OK {
		return &runError{code: CodeExecutionError, msg: describeError(res)}
	}
	return nil
}

// ExecuteCode starts a run that executes code in the chat's kernel.
func (s *Service) ExecuteCode(ctx context.Context, chatID, code string) (*ent.Run, error) {
	if len(code) == 0 || len(code) > maxInputBytes {
		return nil, errcode.Field("code", "must be 1 to %d bytes", maxInputBytes)
	}
	return s.start(ctx, run.KindEXECUTE_CODE, chatID, runInput{Code: code}, "")
}

// ExecuteMessageCode starts a run that executes code from one of the
// viewer's assistant messages in the chat's kernel; the message's code
// execution record gets the code as its latest, with its output and success.
// Another user's message is not found.
func (s *Service) ExecuteMessageCode(ctx context.Context, chatID, messageID, code string) (*ent.Run, error) {
	if len(code) == 0 || len(code) > maxInputBytes {
		return nil, errcode.Field("code", "must be 1 to %d bytes", maxInputBytes)
	}
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.cfg.DB.Message.Query().Where(message.ID(messageID), message.UserID(v.UserID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "messageID", Message: "message not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load message %s: %w", messageID, err)
	}
	if m.ChatID != chatID {
		return nil, errcode.Field("messageID", "the message is not in chat %s", chatID)
	}
	if m.Sender != message.SenderAI {
		return nil, errcode.Field("messageID", "only an assistant message has code to execute")
	}
	return s.start(ctx, run.KindEXECUTE_CODE, chatID, runInput{Code: code, MessageID: messageID}, "")
}

// recordMessageCode stores an execution of a message's code on the message's
// code execution record (made when the answer had none): the code as its
// latest, with what it produced.
func (s *Service) recordMessageCode(rc *runContext, chatID string, res *executor.Result) error {
	id := rc.in.MessageID
	result := s.encodeResult(res)
	upd := s.cfg.DB.CodeExecution.Update().Where(codeexecution.MessageID(id)).
		SetLatestCode(rc.in.Code).SetOutput(res.Stdout).SetIsSuccessful(res.OK).SetResult(result)
	if !res.OK {
		upd.AppendErrorMessages([]string{describeError(res)})
	}
	n, err := upd.Save(rc.user)
	if err != nil {
		return fmt.Errorf("update the code execution of message %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	c := s.cfg.DB.CodeExecution.Create().SetUserID(rc.run.UserID).SetChatID(chatID).SetMessageID(id).
		SetRunID(rc.run.ID).SetInitialCode(rc.in.Code).SetLatestCode(rc.in.Code).
		SetOutput(res.Stdout).SetIsSuccessful(res.OK).SetResult(result)
	if !res.OK {
		c.SetErrorMessages([]string{describeError(res)})
	}
	if err := c.Exec(rc.user); err != nil && !ent.IsConstraintError(err) {
		return fmt.Errorf("store the code execution of message %s: %w", id, err)
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
