package orchestrator

import (
	"context"
	"strconv"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// FixCode starts a run in which the code-fix agent repairs code that failed
// with errText, executing each repair in the chat's kernel, up to
// MaxFixAttempts times; the run's last AGENT_CODE event holds the first
// repair that ran (or the last one tried).
func (s *Service) FixCode(ctx context.Context, chatID, code, errText string) (*ent.Run, error) {
	if len(code) == 0 || len(code) > maxInputBytes {
		return nil, errcode.Field("code", "must be 1 to %d bytes", maxInputBytes)
	}
	if len(errText) > maxInputBytes {
		return nil, errcode.Field("error", "must be at most %d bytes", maxInputBytes)
	}
	return s.start(ctx, run.KindFIX_CODE, chatID, runInput{Code: code, Error: errText}, "")
}

// EditCode starts a run in which the model edits code as instruction says;
// the run's AGENT_CODE event holds the edited program.
func (s *Service) EditCode(ctx context.Context, chatID, code, instruction string) (*ent.Run, error) {
	if len(code) == 0 || len(code) > maxInputBytes {
		return nil, errcode.Field("code", "must be 1 to %d bytes", maxInputBytes)
	}
	if strings.TrimSpace(instruction) == "" || len(instruction) > 8<<10 {
		return nil, errcode.Field("instruction", "must be 1 to %d bytes", 8<<10)
	}
	return s.start(ctx, run.KindEDIT_CODE, chatID, runInput{Code: code, Instruction: instruction}, "")
}

// codeTurn prepares a turn for a code run: the chat, its datasets and the
// model of the user who started it.
func (s *Service) codeTurn(rc *runContext) (*turn, error) {
	c, files, err := s.chatDatasets(rc)
	if err != nil {
		return nil, err
	}
	mc, err := s.runModel(rc)
	if err != nil {
		return nil, err
	}
	s.recordModel(rc, mc)
	return &turn{
		rc: rc, chat: c, files: files, model: mc,
		provider: s.metered(mc.Provider),
		datasets: describeDatasets(c.Edges.Datasets),
	}, nil
}

// fixCodeRun repairs the run's code: the fix agent rewrites it from the
// error, the repair runs in the chat's kernel, and a repair that fails again
// is repaired again, at most MaxFixAttempts times. Each repair is an
// AGENT_CODE event; the last one is the result.
func (s *Service) fixCodeRun(rc *runContext) error {
	t, err := s.codeTurn(rc)
	if err != nil {
		return err
	}
	code, errText := rc.in.Code, strings.TrimSpace(rc.in.Error)
	if errText == "" {
		errText = "(no error message was given)"
	}
	for attempt := 1; attempt <= max(s.cfg.MaxFixAttempts, 1); attempt++ {
		rc.emit(EventStep, eventData{Agent: "code_fix", Text: "repair attempt " + strconv.Itoa(attempt) + " after: " + firstLine(errText)})
		prompt, err := render(s.prompts.fixCode, map[string]any{
			"Datasets": t.datasets, "Code": code, "Error": errText, "Lessons": s.lessons(t),
		})
		if err != nil {
			return err
		}
		answer, err := s.call(t, "code_fix", prompt, nil)
		if err != nil {
			return err
		}
		fixed, summary, perr := parseAgentAnswer(answer)
		if perr != nil {
			return &runError{code: CodeModelError, msg: "the code-fix answer had no code: " + perr.Error(), err: perr}
		}
		rc.emit(EventAgentCode, eventData{Agent: "code_fix", Code: fixed, Text: summary})
		res, err := s.runCode(rc, rc.user, t.chat.ID, t.files, fixed, "")
		if err != nil {
			return err
		}
		code = fixed
		if res.OK {
			return nil
		}
		errText = describeError(res)
		if res.Error != nil && res.Error.Traceback != "" {
			errText += "\n" + lastLines(res.Error.Traceback, 15)
		}
	}
	// The last repair is the answer even though it still fails: the user
	// sees its error in the last EXECUTION_RESULT.
	return nil
}

// editCodeRun edits the run's code as its instruction says; the edited
// program is the run's AGENT_CODE event. It is not executed.
func (s *Service) editCodeRun(rc *runContext) error {
	t, err := s.codeTurn(rc)
	if err != nil {
		return err
	}
	prompt, err := render(s.prompts.edit, map[string]any{
		"Datasets": t.datasets, "Code": rc.in.Code, "Instruction": strings.TrimSpace(rc.in.Instruction),
	})
	if err != nil {
		return err
	}
	answer, err := s.call(t, "code_edit", prompt, nil)
	if err != nil {
		return err
	}
	edited, summary, perr := parseAgentAnswer(answer)
	if perr != nil {
		return &runError{code: CodeModelError, msg: "the code-edit answer had no code: " + perr.Error(), err: perr}
	}
	rc.emit(EventAgentCode, eventData{Agent: "code_edit", Code: edited, Text: summary})
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return truncate(line, 200)
}
