package app

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

// LogFlag registers -log-level on fs, for both binaries; the function it
// returns, called after parsing, builds the logger (text on stderr).
func LogFlag(fs *flag.FlagSet) func() (*slog.Logger, error) {
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return func() (*slog.Logger, error) {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(*level)); err != nil {
			return nil, fmt.Errorf("bad -log-level: %w", err)
		}
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
	}
}
