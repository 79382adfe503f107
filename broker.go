package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
)

// openBroker returns the broker named by the configuration: Redis when
// REDIS_URL is set, else the in-memory broker of this process.
func openBroker(ctx context.Context, cfg *config, log zerolog.Logger) (broker.Broker, func() error, error) {
	if cfg.RedisURL != "" {
		return nil, nil, errors.New("REDIS_URL: the Redis broker is not built yet")
	}
	b := memory.New()
	return b, b.Close, nil
}
