package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestStartLogRedactsSecrets: the start-up line lists the configuration,
// and no secret's value reaches it: keys are "(set)", passwords "xxxxx".
func TestStartLogRedactsSecrets(t *testing.T) {
	secrets := map[string]string{
		"OPENAI_API_KEY":    "sk-openai-SECRET1",
		"ANTHROPIC_API_KEY": "sk-ant-SECRET2",
		"GROQ_API_KEY":      "gsk-SECRET3",
		"GEMINI_API_KEY":    "gem-SECRET4",
		"ADMIN_API_KEY":     "admin-SECRET5",
		"SECRET_KEY":        "0123456789abcdef0123456789abcdef-SECRET6",
		"DATABASE_URL":      "postgres://app:dbpass-SECRET7@db:5432/aa?sslmode=disable&password=dbpass-SECRET8",
		"REDIS_URL":         "redis://:redispass-SECRET9@redis:6379/0",
		"BLOB_URL":          "s3://bucket?region=eu-west-1&secret_access_key=SECRET10",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("PORT", "8000")
	t.Setenv("EXEC_TIMEOUT", "120s")
	t.Setenv("HEALTH_ADDR", ":9090")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	logStart(zerolog.New(&buf), cfg, "serve", 2)
	out := buf.String()
	for k, v := range secrets {
		for _, part := range regexp.MustCompile(`[A-Za-z0-9-]*SECRET[0-9]+`).FindAllString(v, -1) {
			if strings.Contains(out, part) {
				t.Errorf("%s's secret %q is in the log: %s", k, part, out)
			}
		}
	}
	var line struct {
		Version string                 `json:"version"`
		Config  map[string]interface{} `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	c := line.Config
	if line.Version == "" || c["OPENAI_API_KEY"] != "(set)" || c["SECRET_KEY"] != "(set)" || c["PORT"] != float64(8000) ||
		c["REDIS_URL"] != "redis://:xxxxx@redis:6379/0" || !strings.HasPrefix(c["DATABASE_URL"].(string), "postgres://app:xxxxx@db:5432/aa?") ||
		c["EXEC_TIMEOUT"] != "2m0s" || c["HEALTH_ADDR"] != ":9090" {
		t.Fatalf("config %v", c)
	}
}

// TestRedactURL covers the URL shapes a setting may have.
func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://app@db:5432/aa", "postgres://app@db:5432/aa"},
		{"postgres://app:pw@db/aa", "postgres://app:xxxxx@db/aa"},
		{"rediss://user:pw@r:6380/1", "rediss://user:xxxxx@r:6380/1"},
		{"postgres://db/aa?sslpassword=pw&sslmode=require", "postgres://db/aa?sslmode=require&sslpassword=xxxxx"},
		{"host=db password=pw", "(redacted)"},
		{"https://api.example.com/v1", "https://api.example.com/v1"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLogTimestampMilliseconds: every line has a UTC timestamp with
// milliseconds, without zerolog's global settings.
func TestLogTimestampMilliseconds(t *testing.T) {
	var buf bytes.Buffer
	l := zerolog.New(&buf).Hook(msTimestamp{})
	l.Info().Msg("x")
	if !regexp.MustCompile(`"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`).Match(buf.Bytes()) {
		t.Fatalf("line %s", buf.String())
	}
}
