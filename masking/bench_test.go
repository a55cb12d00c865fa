package masking

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// benchRecords are the records the benchmarks log, each through a plain
// slog.JSONHandler and through NewHandler wrapping one, both to io.Discard.
var benchRecords = []struct {
	name string
	log  func(*slog.Logger)
}{
	{"typical", func(l *slog.Logger) {
		l.LogAttrs(context.Background(), slog.LevelInfo, "request handled",
			slog.String("method", "GET"),
			slog.String("path", "/api/v1/orders/8f14e45f"),
			slog.Int("status", 200),
			slog.Duration("latency", 1234567*time.Nanosecond),
			slog.String("user_id", "u-4821"),
			slog.String("remote_addr", "10.1.2.3:51234"),
		)
	}},
	{"one-secret", func(l *slog.Logger) {
		l.LogAttrs(context.Background(), slog.LevelInfo, "request handled",
			slog.String("method", "GET"),
			slog.String("path", "/api/v1/orders/8f14e45f"),
			slog.Int("status", 200),
			slog.Duration("latency", 1234567*time.Nanosecond),
			slog.String("db", "postgres://app:s3cr3t-pw@db.internal:5432/orders"),
			slog.String("remote_addr", "10.1.2.3:51234"),
		)
	}},
	{"large-message", func(l *slog.Logger) {
		l.LogAttrs(context.Background(), slog.LevelInfo, largeMessage,
			slog.String("method", "GET"),
			slog.Int("status", 200),
		)
	}},
}

// largeMessage is about 4 KiB of secret-free log text. It leaves out the
// git SHA of secretFreeWords, which the default long-token rule masks.
var largeMessage = func() string {
	r := rand.New(rand.NewPCG(4, 4))
	var b strings.Builder
	for b.Len() < 4<<10 {
		w := secretFreeWords[r.IntN(len(secretFreeWords))]
		if len(w) >= longTokenLen {
			continue
		}
		b.WriteString(w)
		b.WriteByte(' ')
	}
	return b.String()
}()

func jsonLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
func maskedLogger() *slog.Logger {
	return slog.New(NewHandler(slog.NewJSONHandler(io.Discard, nil), nil))
}

func BenchmarkJSONHandler(b *testing.B) {
	for _, rec := range benchRecords {
		b.Run(rec.name, func(b *testing.B) {
			l := jsonLogger()
			b.ReportAllocs()
			for b.Loop() {
				rec.log(l)
			}
		})
	}
}

func BenchmarkHandler(b *testing.B) {
	for _, rec := range benchRecords {
		b.Run(rec.name, func(b *testing.B) {
			l := maskedLogger()
			b.ReportAllocs()
			for b.Loop() {
				rec.log(l)
			}
		})
	}
}

// BenchmarkHandlerVsJSON logs each record through both handlers in
// alternating batches, so both see the same machine load, and reports
// x-vs-json: masked time over plain JSONHandler time. The goal is at most
// 1.5 for records without secrets.
func BenchmarkHandlerVsJSON(b *testing.B) {
	const batch = 64
	for _, rec := range benchRecords {
		b.Run(rec.name, func(b *testing.B) {
			plain, masked := jsonLogger(), maskedLogger()
			var tPlain, tMasked time.Duration
			for done := 0; done < b.N; done += batch {
				n := min(batch, b.N-done)
				t0 := time.Now()
				for range n {
					rec.log(plain)
				}
				t1 := time.Now()
				for range n {
					rec.log(masked)
				}
				tMasked += time.Since(t1)
				tPlain += t1.Sub(t0)
			}
			b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "json-ns/op")
			b.ReportMetric(float64(tMasked.Nanoseconds())/float64(b.N), "masked-ns/op")
			b.ReportMetric(float64(tMasked)/float64(tPlain), "x-vs-json")
		})
	}
}

// BenchmarkMask reports Mask's throughput in MB/s.
func BenchmarkMask(b *testing.B) {
	withSecrets := largeMessage + " postgres://app:pw@db/x Authorization: Bearer abcdef123456 password=hunter2 " + largeMessage
	for _, tc := range []struct{ name, text string }{
		{"secret-free-4KiB", largeMessage},
		{"short-secret-free", "request handled for user u-4821 in 12ms"},
		{"with-secrets-8KiB", withSecrets},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			for b.Loop() {
				Mask(tc.text)
			}
		})
	}
}
