package app

import (
	"io"
	"log/slog"
)

// NewLogger returns the slog logger the configuration asks for, writing to
// w: text (logfmt-like, readable in a terminal) or JSON (for collectors).
// Invalid values fall back to info/text; Load rejects them before this.
func NewLogger(c Config, w io.Writer) *slog.Logger {
	c = c.withDefaults()
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
