package main

import (
	"context"
	"fmt"
	stdlog "log"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/buildinfo"
)

// timeFormat is the logs' timestamp: RFC 3339 in UTC, with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// newLogger is the process's logger (LOG_LEVEL, LOG_FORMAT). Each line is
// stamped in milliseconds by a hook, rather than through zerolog's
// TimeFieldFormat or TimestampFunc, which are package globals. It also
// sends the libraries' logs (go-redis, the standard log package) through
// it: those are globals of theirs, set here because each process runs one
// command, which makes one logger.
func newLogger(cfg *config) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		lvl = zerolog.InfoLevel
	}
	var log zerolog.Logger
	if cfg.LogFormat == "console" || (cfg.LogFormat == "" && isatty.IsTerminal(os.Stderr.Fd())) {
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"})
	} else {
		log = zerolog.New(os.Stderr)
	}
	log = log.Level(lvl).Hook(msTimestamp{})
	routeLibraryLogs(log)
	return log
}

// msTimestamp stamps each line with the time in milliseconds.
type msTimestamp struct{}

func (msTimestamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().UTC().Format(timeFormat))
}

// routeLibraryLogs sends go-redis's messages and the standard log package's
// (net/http's server errors among them) through log, as JSON lines, instead
// of plain text on stderr. Both are process-wide settings of those packages.
func routeLibraryLogs(log zerolog.Logger) {
	goredis.SetLogger(redisLogger{log.With().Str("component", "go-redis").Logger()})
	stdlog.SetFlags(0)
	stdlog.SetOutput(stdWriter{log.With().Str("component", "stdlog").Logger()})
}

// redisLogger is go-redis's internal.Logging on zerolog: its messages are
// about connections failing and retrying, hence warnings.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// stdWriter is the standard log package's output on zerolog.
type stdWriter struct{ log zerolog.Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// secretSettings are the settings whose values never reach the logs: the
// start-up line says only whether they are set.
var secretSettings = map[string]bool{
	"OPENAI_API_KEY": true, "ANTHROPIC_API_KEY": true, "GROQ_API_KEY": true, "GEMINI_API_KEY": true,
	"ADMIN_API_KEY": true, "SECRET_KEY": true,
}

// logStart logs the process's version and its configuration, secrets
// redacted: keys as "(set)", passwords in URLs as "xxxxx".
func logStart(log zerolog.Logger, cfg *config, role string, workers int) {
	bi := buildinfo.Read()
	log.Info().Str("role", role).Int("workers", workers).Str("version", bi.Version).Str("commit", bi.ShortCommit()).
		Bool("dirty", bi.Dirty).Str("go", bi.GoVersion).Dict("config", configDict(cfg)).Msg("starting")
}

// configDict is every setting of cfg by its variable's name, redacted.
func configDict(cfg *config) *zerolog.Event {
	d := zerolog.Dict()
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		f := v.Field(i)
		switch {
		case secretSettings[name]:
			if f.String() == "" {
				d.Str(name, "")
			} else {
				d.Str(name, "(set)")
			}
		case strings.HasSuffix(name, "_URL") && f.Kind() == reflect.String:
			d.Str(name, redactURL(f.String()))
		case f.Kind() == reflect.Int64 && f.Type() == reflect.TypeOf(time.Duration(0)):
			d.Str(name, time.Duration(f.Int()).String())
		default:
			d.Interface(name, f.Interface())
		}
	}
	return d
}

// redactURL hides a URL's password, and the values of query parameters
// that may hold a secret (password=, sslpassword=, access keys, tokens). A
// value that does not parse as a URL with a scheme is hidden whole.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(redacted)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(redacted)"
		} else {
			for k := range q {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "pass") || strings.Contains(lk, "secret") || strings.Contains(lk, "key") ||
					strings.Contains(lk, "token") || strings.Contains(lk, "credential") {
					q[k] = []string{"xxxxx"}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
