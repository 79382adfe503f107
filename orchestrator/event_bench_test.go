package orchestrator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/autoanalyst/autoanalyst/broker"
	"github.com/autoanalyst/autoanalyst/broker/memory"
	"github.com/autoanalyst/autoanalyst/broker/redis"
)

// turnTokens is about how many TOKEN events a chat turn streams (issue #17).
const turnTokens = 750

// BenchmarkEmitTokens measures what a chat turn's streaming costs the
// emitter: turnTokens TOKEN events emitted one after the other, as the
// model's streaming loop does, then an AGENT_FINISHED that waits for them to
// be in the log. It reports ns/event, for the memory broker and for Redis
// (TEST_REDIS_URL, default redis://127.0.0.1:6379/0; skipped when
// unreachable).
func BenchmarkEmitTokens(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		m := memory.New()
		b.Cleanup(func() { m.Close() })
		benchEmitTokens(b, m)
	})
	b.Run("redis", func(b *testing.B) {
		benchEmitTokens(b, benchRedis(b))
	})
}

func benchEmitTokens(b *testing.B, log broker.EventLog) {
	ctx := context.Background()
	n := 0
	for b.Loop() {
		em := &emitter{log: log, runID: fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n)}
		em.reserve = func(context.Context, int64) error { return nil }
		for range turnTokens {
			if err := em.emit(ctx, EventToken, eventData{Agent: "analyst", Text: "tok "}); err != nil {
				b.Fatal(err)
			}
		}
		if err := em.emit(ctx, EventAgentFinished, eventData{Agent: "analyst", Text: "done"}); err != nil {
			b.Fatal(err)
		}
		if got := em.last.Load(); got != turnTokens+1 {
			b.Fatalf("the log is at %d, want %d", got, turnTokens+1)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*(turnTokens+1)), "ns/event")
}

// benchRedis returns a Redis broker on a key prefix of its own, removed
// when the benchmark ends.
func benchRedis(b *testing.B) broker.Broker {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := goredis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		b.Skipf("Redis unreachable at %s: %v", url, err)
	}
	prefix := fmt.Sprintf("aa-bench-%016x:", rand.Uint64())
	rb := redis.New(c, redis.WithPrefix(prefix))
	b.Cleanup(func() {
		rb.Close()
		ctx := context.Background()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return rb
}
