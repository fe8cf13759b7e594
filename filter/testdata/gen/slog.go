// Command slog writes the lines of ../slog-json.log and ../slog-text.log with Go's log/slog
// handlers. Run from this folder: go run slog.go
package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
)

func main() {
	for _, out := range []struct {
		file string
		h    func(io.Writer, *slog.HandlerOptions) slog.Handler
	}{
		{"../slog-json.log", func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) }},
		{"../slog-text.log", func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) }},
	} {
		f, err := os.Create(out.file)
		if err != nil {
			panic(err)
		}
		log := slog.New(out.h(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		log.Debug("cache warmed", "entries", 42, "ratio", 0.75)
		log.Info("listening", "addr", ":8080", "tls", false)
		log.Warn("disk almost full", slog.Group("disk", "free_mb", 512, "path", "/var/lib/data"))
		log.Error("request failed", "err", errors.New(`dial tcp: "café" refused`), "status", 502)
		log.Info("two\nlines", "stream", "mine")
		f.Close()
	}
}
