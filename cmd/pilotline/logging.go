package main

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// stdlogWriter forwards lines written through the standard log package
// (which gopcua's server uses for its start-up chatter) to slog at debug level.
type stdlogWriter struct{ logger *slog.Logger }

func (w stdlogWriter) Write(p []byte) (int, error) {
	w.logger.Log(context.Background(), slog.LevelDebug, string(bytes.TrimSpace(p)), "source", "gopcua")
	return len(p), nil
}

// captureStdLog routes the standard logger into logger.
func captureStdLog(logger *slog.Logger) {
	log.SetFlags(0)
	log.SetOutput(stdlogWriter{logger})
}
