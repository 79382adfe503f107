package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/executor"
)

// A dataset's parsed form is the cleaned DataFrame the upload's sandboxed
// read made of its file, pickled inside the sandbox (see
// executor.ProfileParsed), which the chat's kernel reads in place of the
// file (executor.Dataset.Parsed): it spares the kernel parsing and
// cleaning the file again. The server never parses it: it stores it under
// the dataset's key + ParsedSuffix, best effort (an upload goes on without
// it), deletes it with the dataset, and caches it like the file.

// ParsedSuffix ends the storage key of a dataset's parsed form: its
// StorageKey followed by it.
const ParsedSuffix = ".parsed"

// ParsedKey returns the storage key of the parsed form of the dataset
// stored under key.
func ParsedKey(key string) string { return key + ParsedSuffix }

// parsedSlack is what a parsed form may have over parsedRatio times its
// file's size.
const (
	parsedRatio = 4
	parsedSlack = 64 << 20
)

// ParsedMaxBytes is the largest parsed form kept for a file of size bytes:
// four times its size plus 64 MiB (a frame of many short strings pickles
// larger than its CSV). A larger one is dropped, and its writer stops
// there.
func ParsedMaxBytes(size int64) int64 { return parsedRatio*size + parsedSlack }

// profileParsed profiles ds as Profiler.ProfileParsed does, into a
// temporary file beside ds.Path, and returns the profile and that file's
// path when the parsed form was written (""; otherwise, logged). The caller
// removes the file.
func (s *Service) profileParsed(ctx context.Context, ds executor.Dataset, size int64) (*executor.Profile, string, error) {
	log := zerolog.Ctx(ctx)
	out, err := os.CreateTemp(filepath.Dir(ds.Path), ".parsed-*")
	if err != nil {
		log.Warn().Err(err).Msg("dataset: no file for the parsed form; profiling without it")
		prof, err := s.Profiler.Profile(ctx, ds)
		return prof, "", err
	}
	defer out.Close()
	prof, pf, err := s.Profiler.ProfileParsed(ctx, ds, out, ParsedMaxBytes(size))
	if err != nil || pf.Bytes <= 0 {
		os.Remove(out.Name())
		if err == nil {
			log.Warn().Str("problem", pf.Problem).Msg("dataset: the upload's parsed form was not written; kernels will read the file")
		}
		return prof, "", err
	}
	return prof, out.Name(), nil
}

// storeParsed moves the parsed form at path into the store as the parsed
// form of the dataset under key, and reports whether it did (a failure is
// logged: the dataset goes on without it).
func (s *Service) storeParsed(ctx context.Context, key, path string) bool {
	if path == "" {
		return false
	}
	if err := s.Store.PutFile(ctx, ParsedKey(key), path); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("key", key).Msg("dataset: the parsed form could not be stored; kernels will read the file")
		return false
	}
	return true
}

// parsedPath returns the local path of the stored parsed form of the
// dataset under key (fetched into the cache like the file), or "" when it
// has none or it cannot be had (logged): the kernel then reads the file.
func (s *Service) parsedPath(ctx context.Context, key string) string {
	if _, missing := s.noParsed.Load(key); missing {
		return ""
	}
	p, err := s.Store.Path(ctx, ParsedKey(key))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			s.noParsed.Store(key, true)
		} else if ctx.Err() == nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("key", key).Msg("dataset: the parsed form could not be fetched; the kernel reads the file")
		}
		return ""
	}
	return p
}

// deleteStored removes the file of the dataset under key and its parsed
// form.
func (s *Service) deleteStored(ctx context.Context, key string) error {
	s.noParsed.Delete(key)
	errFile := s.Store.Delete(ctx, key)
	errParsed := s.Store.Delete(ctx, ParsedKey(key))
	if err := errors.Join(errFile, errParsed); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
