package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	redisbroker "github.com/autoanalyst/autoanalyst/broker/redis"
	"github.com/autoanalyst/autoanalyst/metrics"
)

// openBroker returns the broker named by the configuration: Redis when
// REDIS_URL is set, else the in-memory broker of this process.
func openBroker(ctx context.Context, cfg *config, log zerolog.Logger, m *metrics.Metrics) (broker.Broker, func() error, error) {
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
		redisbroker.WithMetrics(m),
		// A chat's runs go to the worker process holding its kernel for as
		// long as the kernel is kept idle.
		redisbroker.WithAffinityTTL(cfg.KernelIdle),
	)
	log.Info().Str("redis", opts.Addr).Str("prefix", cfg.RedisPrefix).Msg("Redis broker ready")
	return b, func() error {
		b.Close()
		return client.Close()
	}, nil
}

// queues prints the broker's queue counts as one JSON line, or a line every
// second with watch. With the in-memory broker it can only see its own empty
// queue, so it refuses.
func queues(ctx context.Context, watch bool) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return fmt.Errorf("queues: REDIS_URL is not set: the in-memory broker's queue lives inside the serving process, which serves the same counts at /metrics (autoanalyst_queue_jobs{state=\"ready\"|\"leased\"|\"retrying\"|\"dead\"}): curl -s localhost:$PORT/metrics | grep queue_jobs")
	}
	log := newLogger(cfg)
	b, closeBroker, err := openBroker(ctx, cfg, log.Level(zerolog.WarnLevel), nil)
	if err != nil {
		return err
	}
	defer closeBroker()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	enc := json.NewEncoder(os.Stdout)
	for {
		st, err := b.Stats(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := enc.Encode(struct {
			At time.Time `json:"at"`
			broker.QueueStats
		}{time.Now().UTC().Truncate(time.Millisecond), st}); err != nil {
			return err
		}
		if !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
