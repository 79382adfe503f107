package buildinfo

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func stamped(mainVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/autoanalyst/autoanalyst", Version: mainVersion}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestFromBuildInfo(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	bi := stamped("v0.0.0-20250501100000-0123456789ab+dirty",
		"vcs", "git", "vcs.revision", rev, "vcs.time", "2025-05-01T10:00:00Z", "vcs.modified", "true")

	got := fromBuildInfo(bi, true, "v1.2.3", "fedcba")
	want := Info{Version: "v1.2.3", Commit: rev, Time: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC), Dirty: true,
		GoVersion: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if s := got.String(); s != "v1.2.3 (commit 0123456789ab, 2025-05-01T10:00:00Z, modified; go1.99.1 "+want.Platform+")" {
		t.Errorf("String() = %q", s)
	}

	// Without -X, the version the go command stamped.
	if v := fromBuildInfo(bi, true, "", "").Version; v != "v0.0.0-20250501100000-0123456789ab+dirty" {
		t.Errorf("stamped version = %q", v)
	}
}

func TestCommitFromLinker(t *testing.T) {
	// A Docker build has no .git: the commit comes from -X.
	got := fromBuildInfo(stamped("(devel)"), true, "v1.2.3", "0123456789abcdef")
	if got.Commit != "0123456789abcdef" || got.ShortCommit() != "0123456789ab" {
		t.Errorf("got %+v", got)
	}
}

func TestUnstamped(t *testing.T) {
	for _, bi := range []*debug.BuildInfo{nil, stamped("(devel)"), stamped("")} {
		got := fromBuildInfo(bi, bi != nil, "", "")
		if got.Version != "devel" || got.Commit != "" || got.Dirty || !got.Time.IsZero() {
			t.Errorf("%+v: got %+v", bi, got)
		}
		if s := got.String(); s != "devel ("+got.GoVersion+" "+got.Platform+")" {
			t.Errorf("String() = %q", s)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(fromBuildInfo(stamped("(devel)"), true, "v1.0.0", ""))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["version"] != "v1.0.0" || m["goVersion"] != "go1.99.1" {
		t.Errorf("JSON %s", b)
	}
	for _, k := range []string{"commit", "time", "dirty"} {
		if _, ok := m[k]; ok {
			t.Errorf("JSON %s has %q, unknown in this build", b, k)
		}
	}
}

func TestRead(t *testing.T) {
	// A test binary carries no VCS stamp; Read still names a version and Go.
	i := Read()
	if i.Version == "" || !strings.HasPrefix(i.GoVersion, "go") || i.Platform == "" {
		t.Errorf("Read() = %+v", i)
	}
}
