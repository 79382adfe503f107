package errcode

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"syscall"
	"testing"
)

type sqlState string

func (s sqlState) Error() string    { return "pg error " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

func TestOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"disk full", &fs.PathError{Op: "write", Path: "/data/x", Err: syscall.ENOSPC}, true},
		{"quota", fmt.Errorf("blob: %w", syscall.EDQUOT), true},
		{"sqlite full", errors.New("sqlite: database or disk is full (13)"), true},
		{"pg disk full", fmt.Errorf("insert: %w", sqlState("53100")), true},
		{"pg connection", sqlState("08006"), true},
		{"pg shutting down", sqlState("57P01"), true},
		{"pg unique violation", sqlState("23505"), false},
		{"bad conn", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"closed", errors.New("sql: database is closed"), true},
		{"dial", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"pgx connect", errors.New(`failed to connect to "host=127.0.0.1": dial error`), true},
		{"other", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := Outage(tc.err)
			if ok != tc.want || ok && reason == "" {
				t.Errorf("Outage(%v) = %q, %v; want %v", tc.err, reason, ok, tc.want)
			}
		})
	}
}
