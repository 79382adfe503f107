package main

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	redisbroker "github.com/autoanalyst/autoanalyst/broker/redis"
)

// openBroker returns the broker named by the configuration: Redis when
// REDIS_URL is set, else the in-memory broker of this process.
func openBroker(ctx context.Context, cfg *config, log zerolog.Logger) (broker.Broker, func() error, error) {
	if cfg.RedisURL == "" {
		b := memory.New(memory.WithLogRetention(cfg.EventRetention))
		return b, b.Close, nil
	}
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, nil, fmt.Errorf("configuration: REDIS_URL is not a valid redis:// or rediss:// URL")
	}
	client := goredis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: Redis at %s does not answer: %w", opts.Addr, err)
	}
	rlog := log.With().Str("component", "broker").Logger()
	b := redisbroker.New(client,
		redisbroker.WithPrefix(cfg.RedisPrefix),
		redisbroker.WithLogRetention(cfg.EventRetention),
		redisbroker.WithMaxLen(cfg.EventMaxLen),
		redisbroker.WithLogf(func(format string, args ...any) { rlog.Warn().Msgf(format, args...) }),
	)
	log.Info().Str("redis", opts.Addr).Str("prefix", cfg.RedisPrefix).Msg("Redis broker ready")
	return b, func() error {
		b.Close()
		return client.Close()
	}, nil
}
