package main

import (
	"strings"
	"testing"
)

func TestCheckMode(t *testing.T) {
	pg := "postgres://127.0.0.1/test"
	redis := "redis://127.0.0.1:6379/0"
	tests := []struct {
		name    string
		cfg     config
		workers int
		role    string
		wantErr string // empty: accepted
	}{
		{"embedded default", config{}, 2, "serve", ""},
		{"API only on the memory broker", config{}, 0, "serve", "REDIS_URL"},
		{"worker on the memory broker", config{}, 2, "worker", "REDIS_URL"},
		{"Redis with SQLite", config{RedisURL: redis}, 2, "serve", "DATABASE_URL"},
		{"worker with SQLite", config{RedisURL: redis}, 2, "worker", "DATABASE_URL"},
		{"worker without workers", config{RedisURL: redis, DatabaseURL: pg}, 0, "worker", "at least 1"},
		{"scaled-out API node", config{RedisURL: redis, DatabaseURL: pg}, 0, "serve", ""},
		{"scaled-out worker", config{RedisURL: redis, DatabaseURL: pg}, 4, "worker", ""},
		{"one process on PostgreSQL", config{DatabaseURL: pg}, 2, "serve", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkMode(&tt.cfg, tt.workers, tt.role)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}
