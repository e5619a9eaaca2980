package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShiftStart(t *testing.T) {
	line, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		return v
	}
	tests := []struct{ now, want string }{
		{"2026-11-28 06:00", "2026-11-28 06:00"}, // shift A starts
		{"2026-11-28 13:59", "2026-11-28 06:00"},
		{"2026-11-28 14:30", "2026-11-28 14:00"}, // shift B
		{"2026-11-28 23:10", "2026-11-28 22:00"}, // shift C, same day
		{"2026-11-29 03:00", "2026-11-28 22:00"}, // shift C began yesterday
	}
	for _, tt := range tests {
		assert.Equal(t, at(tt.want), shiftStart(line, at(tt.now)), tt.now)
	}
	line.Shifts = nil
	assert.Equal(t, at("2026-11-28 00:00"), shiftStart(line, at("2026-11-28 15:00")), "no shifts: midnight")
}
