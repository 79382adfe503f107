package errcode

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Outage reports whether err is the server's trouble rather than anything
// about the request: its disk is full, or its database does not answer. It
// returns a client-safe reason, for an UNAVAILABLE error that a client may
// retry later. It is safe for concurrent use.
func Outage(err error) (reason string, ok bool) {
	if err == nil {
		return "", false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return "the server is out of disk space; try again later", true
	}
	var state interface{ SQLState() string } // PostgreSQL (pgconn.PgError)
	if errors.As(err, &state) {
		switch code := state.SQLState(); {
		case code == "53100": // disk_full
			return "the server is out of disk space; try again later", true
		case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), // connection, insufficient resources
			code == "57P01", code == "57P02", code == "57P03": // shutting down, cannot connect now
			return "the database is unavailable; try again later", true
		}
		return "", false
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database or disk is full"): // SQLITE_FULL
		return "the server is out of disk space; try again later", true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		strings.Contains(msg, "sql: database is closed"), strings.Contains(msg, "failed to connect to"):
		return "the database is unavailable; try again later", true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "the database is unavailable; try again later", true
	}
	return "", false
}
