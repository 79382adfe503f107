package executor

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// defaultHostUser is the host user kernels run as when the server runs as
// root and Config.HostUser is empty.
const defaultHostUser = "nobody"

// hostUser is the host identity kernels run as when the server runs as root:
// bubblewrap (or, without the sandbox, the interpreter) is started with these
// credentials, so the sandbox's user maps to them and never to host root.
type hostUser struct {
	spec     string // as configured (Config.HostUser, or the default)
	uid, gid uint32
}

// String describes the user for logs and error messages.
func (h *hostUser) String() string {
	return fmt.Sprintf("%s (uid %d, gid %d)", h.spec, h.uid, h.gid)
}

// credential is what exec uses to switch to the user: its uid and gid, and no
// supplementary groups (root's would stay otherwise).
func (h *hostUser) credential() *syscall.Credential {
	return &syscall.Credential{Uid: h.uid, Gid: h.gid, Groups: []uint32{}}
}

// kernelHostUser returns the host user kernels run as: nil when the server
// is not root (it cannot switch users, so kernels run as its own user and the
// sandbox's ids map to it), otherwise spec resolved by resolveHostUser.
func kernelHostUser(spec string) (*hostUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return resolveHostUser(spec)
}

// resolveHostUser resolves a Config.HostUser: "user" or "user:group", each a
// name or a number; "" is "nobody". A user without a group takes its primary
// group from the user database, so a numeric uid that is not in it needs its
// group ("1234:1234"). It refuses uid 0 and gid 0: kernels never run as
// root.
func resolveHostUser(spec string) (*hostUser, error) {
	if spec == "" {
		spec = defaultHostUser
	}
	fail := func(format string, args ...any) (*hostUser, error) {
		return nil, fmt.Errorf("%w: SANDBOX_USER %q: %s", ErrHostUser, spec, fmt.Sprintf(format, args...))
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	h := &hostUser{spec: spec}
	var primary string // the user's primary group id, from the user database
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		h.uid = uint32(id)
		if u, err := user.LookupId(name); err == nil {
			primary = u.Gid
		}
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return fail("%v", err)
		}
		id, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return fail("user id %q: %v", u.Uid, err)
		}
		h.uid, primary = uint32(id), u.Gid
	}
	switch {
	case hasGroup:
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			h.gid = uint32(id)
		} else if g, err := user.LookupGroup(group); err != nil {
			return fail("%v", err)
		} else if id, err := strconv.ParseUint(g.Gid, 10, 32); err != nil {
			return fail("group id %q: %v", g.Gid, err)
		} else {
			h.gid = uint32(id)
		}
	case primary != "":
		id, err := strconv.ParseUint(primary, 10, 32)
		if err != nil {
			return fail("group id %q: %v", primary, err)
		}
		h.gid = uint32(id)
	default:
		return fail("uid %d is not in the user database: give its group too (uid:gid)", h.uid)
	}
	if h.uid == 0 || h.gid == 0 {
		return fail("uid %d, gid %d: kernels must not run as root or with group root; "+
			"give an unprivileged user and group (the default is %s)", h.uid, h.gid, defaultHostUser)
	}
	return h, nil
}
