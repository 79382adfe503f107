// Package buildinfo tells which build of autoanalyst is running: its version,
// the commit it was built from, and the Go toolchain, for `autoanalyst
// version`, /healthz and the start-up log.
//
// The commit, its time and whether the work tree was modified come from the
// VCS stamp the go command embeds (runtime/debug.ReadBuildInfo). The version
// is Version when the build sets it:
//
//	go build -ldflags "-X github.com/autoanalyst/autoanalyst/buildinfo.Version=$(git describe --tags --always --dirty)"
//
// (the command also accepts -X main.version=..., GoReleaser's convention);
// otherwise the module version the go command stamped, else "devel". A build
// without the repository (a Docker context without .git) may set Commit too.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Version is the release version, set at link time with -ldflags
// "-X github.com/autoanalyst/autoanalyst/buildinfo.Version=v1.2.3".
var Version string

// Commit is the VCS revision, set at link time with -ldflags
// "-X github.com/autoanalyst/autoanalyst/buildinfo.Commit=$(git rev-parse HEAD)"
// for builds that the go command cannot stamp; its stamp wins.
var Commit string

// Info describes the running build.
type Info struct {
	// Version is the release version ("v1.2.3", "v1.2.3-4-gabcdef0-dirty"),
	// else the module's pseudo-version, else "devel".
	Version string `json:"version"`
	// Commit is the full VCS revision, empty when the build was not stamped
	// (go run, -buildvcs=false, or a build outside a repository).
	Commit string `json:"commit,omitempty"`
	// Time is the commit's time (not the build's, which keeps builds
	// reproducible); zero when unknown.
	Time time.Time `json:"time,omitzero"`
	// Dirty reports that the work tree had uncommitted changes.
	Dirty bool `json:"dirty,omitempty"`
	// GoVersion is the toolchain that built the binary ("go1.24.2").
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH ("linux/amd64").
	Platform string `json:"platform"`
}

// Read returns the running build's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(bi, ok, Version, Commit)
}

func fromBuildInfo(bi *debug.BuildInfo, ok bool, version, commit string) Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		if info.Version == "" {
			info.Version = "devel"
		}
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			info.Dirty = s.Value == "true"
		}
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	return info
}

// ShortCommit is the commit's first 12 hex digits (all of a shorter one).
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is one line for people and logs:
// "v1.2.3 (commit 0123456789ab, 2025-05-01T10:00:00Z, modified; go1.24.2 linux/amd64)".
func (i Info) String() string {
	var parts []string
	if i.Commit != "" {
		parts = append(parts, "commit "+i.ShortCommit())
	}
	if !i.Time.IsZero() {
		parts = append(parts, i.Time.UTC().Format(time.RFC3339))
	}
	if i.Dirty {
		parts = append(parts, "modified")
	}
	detail := strings.Join(parts, ", ")
	if detail != "" {
		detail += "; "
	}
	return fmt.Sprintf("%s (%s%s %s)", i.Version, detail, i.GoVersion, i.Platform)
}
