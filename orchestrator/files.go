package orchestrator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/outputfile"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
)

// FileInfo describes a stored output file in a FILES event.
type FileInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// FileURL is the path an output file is downloaded from (httpapi serves it
// to its owner).
func FileURL(id string) string { return "/files/" + id }

// mediaTypes are the media types given to output files by extension; any
// other file is application/octet-stream. None is text/html, nor any type
// a browser would run.
var mediaTypes = map[string]string{
	".csv":     "text/csv; charset=utf-8",
	".tsv":     "text/tab-separated-values; charset=utf-8",
	".txt":     "text/plain; charset=utf-8",
	".md":      "text/markdown; charset=utf-8",
	".json":    "application/json",
	".parquet": "application/vnd.apache.parquet",
	".xlsx":    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xls":     "application/vnd.ms-excel",
	".pdf":     "application/pdf",
	".png":     "image/png",
	".jpg":     "image/jpeg",
	".jpeg":    "image/jpeg",
	".gif":     "image/gif",
	".zip":     "application/zip",
}

// MediaType is the media type an output file named name is served as.
func MediaType(name string) string {
	if t, ok := mediaTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// storeFiles keeps the files an execution wrote (res.Files) in the blob
// store, each under outputs/<user>/<file id>, and records them for the run
// (and messageID, when the answer is stored already); then it announces
// them (FILES). Nothing is half-stored: when a blob or the rows cannot be
// written, the blobs written are removed and the files are dropped with a
// warning, as they are when the run has no store. The files of a failed
// execution are not kept.
func (s *Service) storeFiles(rc *runContext, ctx context.Context, res *executor.Result, messageID string) {
	if res == nil || !res.OK || len(res.Files) == 0 || s.cfg.Outputs == nil {
		return
	}
	userID := rc.run.UserID
	var keys []string
	cleanup := func() {
		for _, k := range keys {
			if err := s.cfg.Outputs.Delete(context.WithoutCancel(ctx), k); err != nil {
				s.runLog(ctx, rc.run.ID).Warn().Err(err).Str("key", k).Msg("remove an output file's blob")
			}
		}
	}
	var creates []*ent.OutputFileCreate
	var infos []FileInfo
	for _, f := range res.Files {
		if !executor.SafeFileName(f.Name) {
			continue
		}
		id := pulid.New("ofl")
		key := "outputs/" + userID + "/" + id
		if _, err := s.cfg.Outputs.Put(ctx, key, bytes.NewReader(f.Data), int64(len(f.Data))); err != nil {
			cleanup()
			s.runLog(ctx, rc.run.ID).Warn().Err(err).Msg("store output files")
			return
		}
		keys = append(keys, key)
		info := FileInfo{ID: id, Name: f.Name, Size: int64(len(f.Data)), MediaType: MediaType(f.Name)}
		c := s.cfg.DB.OutputFile.Create().SetID(id).SetUserID(userID).SetRunID(rc.run.ID).
			SetName(info.Name).SetSize(info.Size).SetMediaType(info.MediaType).SetBlobKey(key)
		if messageID != "" {
			c.SetMessageID(messageID)
		}
		creates = append(creates, c)
		infos = append(infos, info)
	}
	if len(creates) == 0 {
		return
	}
	if err := s.cfg.DB.OutputFile.CreateBulk(creates...).Exec(rc.user); err != nil {
		cleanup()
		s.runLog(ctx, rc.run.ID).Warn().Err(err).Msg("record output files")
		return
	}
	rc.storedFiles.Store(true)
	rc.emit(EventFiles, eventData{Files: infos})
}

// attachFiles attaches the run's files that have no answer yet to the
// answer m (in the answer's transaction). The first attempt of a run (no
// earlier one started it, in this process or another) that stored no file
// has none to attach, and skips the statement.
func attachFiles(ctx context.Context, tx *ent.Tx, rc *runContext, messageID string) error {
	if rc.attempt <= 1 && rc.run.StartedAt == nil && !rc.storedFiles.Load() {
		return nil
	}
	runID := rc.run.ID
	if _, err := tx.OutputFile.Update().Where(outputfile.RunID(runID), outputfile.MessageIDIsNil()).
		SetMessageID(messageID).Save(ctx); err != nil {
		return fmt.Errorf("attach output files: %w", err)
	}
	return nil
}

// OpenFile opens an output file of the viewer's for reading: its record and
// its bytes (the caller closes them). Another user's file, or a missing
// one, is NOT_FOUND.
func (s *Service) OpenFile(ctx context.Context, id string) (*ent.OutputFile, *os.File, error) {
	v, err := viewer.Require(ctx)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.cfg.DB.OutputFile.Query().Where(outputfile.ID(id), outputfile.UserID(v.UserID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "file not found"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load output file %s: %w", id, err)
	}
	if s.cfg.Outputs == nil {
		return nil, nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "file not found"}
	}
	p, err := s.cfg.Outputs.Path(ctx, f.BlobKey)
	if err != nil {
		return nil, nil, fmt.Errorf("locate output file %s: %w", id, err)
	}
	file, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open output file %s: %w", id, err)
	}
	return f, file, nil
}
