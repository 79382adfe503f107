package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// FrameFormat is the format of an exported frame (the GraphQL FrameFormat).
type FrameFormat string

// Frame formats.
const (
	// FrameCSV is UTF-8 CSV, every text cell quoted.
	FrameCSV FrameFormat = "CSV"
	// FrameXLSX is an Excel workbook of one sheet.
	FrameXLSX FrameFormat = "XLSX"
)

// executorFormats maps the formats to the executor's.
var executorFormats = map[FrameFormat]executor.FrameFormat{FrameCSV: executor.FrameCSV, FrameXLSX: executor.FrameXLSX}

// FrameForDataset is a DataFrame of one of the viewer's runs (see Frame) as
// plain UTF-8 CSV (no cell neutralised: it is read back as data) of at most
// maxBytes, to keep as a dataset.
func (s *Service) FrameForDataset(ctx context.Context, runID, variable string, maxBytes int64) ([]byte, error) {
	f, err := s.Frame(ctx, runID, executor.FrameRequest{Variable: variable, Format: executor.FrameCSV, MaxBytes: maxBytes})
	if err != nil {
		return nil, err
	}
	return f.Data, nil
}

// Frame returns a DataFrame that the code of one of the viewer's runs made,
// req.Variable (a DataFrame, or a Series made a one-column frame),
// serialised by the chat's kernel inside the sandbox as req asks.
//
// An execution leaves nothing behind in its kernel (each is a fork of it),
// so the frame is made again: the run's last code that succeeded (the code
// of its last EXECUTION_STARTED event whose EXECUTION_RESULT was ok, after
// any RUN_RESTARTED) runs once more in a fork of the chat's kernel, on the
// chat's datasets as they are now, within the run kind's time limit, and
// nothing of it is shown or stored. Code that draws random numbers without
// a seed, or datasets changed since, give other values. No model is called
// and no credit is charged.
//
// Refusals: a variable that is not a Python identifier, a run without a
// chat, unfinished or without code that succeeded, code that fails when it
// runs again, a missing variable or one that is not a frame are
// BAD_USER_INPUT (field run or variable); a frame over req.MaxBytes is
// LIMIT_EXCEEDED; another user's run, or an unknown one, NOT_FOUND; a
// sandbox that cannot run UNAVAILABLE.
func (s *Service) Frame(ctx context.Context, runID string, req executor.FrameRequest) (*executor.Frame, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	if !executor.ValidVariable(req.Variable) {
		return nil, errcode.Field("variable", "must be a Python identifier: letters, digits and _, not starting with a digit, "+
			"at most %d characters, not a keyword (such as summary)", executor.MaxVariableLen)
	}
	r, err := s.cfg.DB.Run.Query().Where(run.ID(runID), run.UserID(v.UserID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "run", Message: "run not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", runID, err)
	}
	if r.ChatID == nil {
		return nil, errcode.Field("run", "the run has no chat: only the code of a chat's runs makes frames of its datasets")
	}
	if r.FinishedAt == nil {
		return nil, errcode.Field("run", "the run has not finished yet; wait for its end (runEvents)")
	}
	code, err := s.lastGoodCode(ctx, r)
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errcode.Field("run", "no code of the run ran successfully, so it made no frame")
	}
	c, err := s.cfg.DB.Chat.Query().Where(chat.ID(*r.ChatID)).
		WithDatasets(func(q *ent.DatasetQuery) { q.Order(ent.Asc(dataset.FieldCreatedAt), ent.Asc(dataset.FieldID)) }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "run", Message: "run not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load chat %s: %w", *r.ChatID, err)
	}
	files, err := s.cfg.Files.Files(ctx, c.Edges.Datasets)
	if err != nil {
		return nil, err
	}
	limit := s.cfg.ExecTimeout
	if r.Kind == run.KindDEEP_ANALYSIS {
		limit = s.deepExecTimeout()
	}
	res, err := s.cfg.Executor.Execute(ctx, executor.Request{Key: c.ID, Datasets: files, Code: code, Timeout: limit, Frame: &req})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, executor.ErrSandboxUnavailable) {
			return nil, errcode.New(errcode.Unavailable, "the sandbox that runs code is unavailable")
		}
		return nil, fmt.Errorf("run the code of run %s again: %w", runID, err)
	}
	if !res.OK {
		return nil, errcode.Field("run", "the run's code failed when it ran again on the chat's datasets (%s); ask the question again",
			describeError(res))
	}
	if res.Frame == nil {
		return nil, fmt.Errorf("run %s: the execution sent no frame", runID)
	}
	return res.Frame, frameError(res.Frame, req)
}

// frameError is the refusal of a frame the kernel could not serialise (nil
// when it could).
func frameError(f *executor.Frame, req executor.FrameRequest) error {
	switch f.Problem {
	case "":
		return nil
	case executor.FrameMissing, executor.FrameNotFrame:
		return errcode.Field("variable", "%s", f.Message)
	case executor.FrameTooLarge:
		return &errcode.Error{Code: errcode.LimitExceeded, Field: "variable", Message: fmt.Sprintf(
			"%s is too large as %s (%s; at most %d bytes): filter or aggregate it first", req.Variable, req.Format, f.Message, f.Limit)}
	default:
		return errcode.Field("variable", "%s could not be written as %s: %s", req.Variable, req.Format, f.Message)
	}
}

// lastGoodCode is the code of r's last execution that succeeded, from its
// events (the broker's log, or the copy stored with the run once the
// broker's has expired); "" when none did.
func (s *Service) lastGoodCode(ctx context.Context, r *ent.Run) (string, error) {
	evs, err := s.cfg.Broker.Read(ctx, r.ID, 0, 0)
	if err != nil {
		return "", fmt.Errorf("read the events of run %s: %w", r.ID, err)
	}
	if len(evs) == 0 {
		if evs, err = storedEvents(r); err != nil {
			return "", err
		}
	}
	return goodCode(evs)
}

// goodCode is the code of the last EXECUTION_STARTED event of evs whose
// EXECUTION_RESULT was ok, in the last attempt (after its RUN_RESTARTED).
func goodCode(evs []broker.Event) (string, error) {
	var started, good string
	for _, e := range evs {
		switch EventType(e.Type) {
		case EventRunRestarted:
			started, good = "", ""
		case EventExecutionStarted, EventExecutionResult:
			ev, err := decodeEvent(e)
			if err != nil {
				return "", err
			}
			if ev.Type == EventExecutionStarted {
				started = ev.Code
			} else if ev.Result != nil && ev.Result.OK && started != "" {
				good = started
			}
		}
	}
	return good, nil
}

// ExportFrame stores a frame of one of the viewer's runs (Frame) as a file
// of the viewer's, named after the variable (summary.csv, summary.xlsx) and
// downloaded like the files code writes (GET /files/{id}, owner only): CSV
// or an Excel workbook whose text cells a spreadsheet would run as formulas
// are neutralised, of at most Config.FrameMaxBytes (LIMIT_EXCEEDED beyond).
// The file belongs to the run but to no answer.
func (s *Service) ExportFrame(ctx context.Context, runID, variable string, format FrameFormat) (*ent.OutputFile, error) {
	efmt, ok := executorFormats[format]
	if !ok {
		return nil, errcode.Field("format", "must be CSV or XLSX")
	}
	if s.cfg.Outputs == nil {
		return nil, errcode.New(errcode.Unavailable, "no store for files is configured")
	}
	f, err := s.Frame(ctx, runID, executor.FrameRequest{Variable: variable, Format: efmt, Neutralise: true,
		MaxBytes: s.frameMaxBytes()})
	if err != nil {
		return nil, err
	}
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, err
	}
	id := pulid.New("ofl")
	key := "outputs/" + v.UserID + "/" + id
	if _, err := s.cfg.Outputs.Put(ctx, key, bytes.NewReader(f.Data), int64(len(f.Data))); err != nil {
		return nil, fmt.Errorf("store frame %s of run %s: %w", variable, runID, err)
	}
	name := variable + "." + string(efmt)
	out, err := s.cfg.DB.OutputFile.Create().SetID(id).SetUserID(v.UserID).SetRunID(runID).
		SetName(name).SetSize(int64(len(f.Data))).SetMediaType(MediaType(name)).SetBlobKey(key).Save(ctx)
	if err != nil {
		if derr := s.cfg.Outputs.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.cfg.Logger.Warn().Err(derr).Str("key", key).Msg("remove an exported frame's blob")
		}
		return nil, fmt.Errorf("record frame %s of run %s: %w", variable, runID, err)
	}
	return out, nil
}

// DefaultFrameMaxBytes bounds an exported frame when Config.FrameMaxBytes
// is 0 (OUTPUT_MAX_BYTES's default).
const DefaultFrameMaxBytes = 20 << 20

func (s *Service) frameMaxBytes() int64 {
	if s.cfg.FrameMaxBytes > 0 {
		return s.cfg.FrameMaxBytes
	}
	return DefaultFrameMaxBytes
}
