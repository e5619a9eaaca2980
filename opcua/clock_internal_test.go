package opcua

import (
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
)

func TestMachineClock(t *testing.T) {
	local0 := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	machine0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return local0.Add(d) }

	t.Run("never read: the local clock", func(t *testing.T) {
		var c machineClock
		assert.Equal(t, at(time.Second), c.at(at(time.Second)))
	})
	t.Run("offset only, before a rate is measured", func(t *testing.T) {
		var c machineClock
		c.observe(machine0, local0)
		assert.Equal(t, machine0.Add(2*time.Second), c.at(at(2*time.Second)))
		assert.Equal(t, machine0.Add(-time.Second), c.at(at(-time.Second)), "before the last reading too")
	})
	t.Run("a clock running 60 times as fast", func(t *testing.T) {
		var c machineClock
		for i := range 5 {
			d := time.Duration(i) * 500 * time.Millisecond
			c.observe(machine0.Add(60*d), at(d))
		}
		// last reading at 2 s local = 120 s machine; 10 s later
		assert.Equal(t, machine0.Add(120*time.Second+600*time.Second), c.at(at(12*time.Second)))
	})
	t.Run("a restarted server's clock is followed", func(t *testing.T) {
		var c machineClock
		for i := range 5 {
			d := time.Duration(i) * 500 * time.Millisecond
			c.observe(machine0.Add(d), at(d))
		}
		reset := machine0.Add(-48 * time.Hour)
		c.observe(reset, at(3*time.Second))
		assert.Equal(t, reset.Add(time.Second), c.at(at(4*time.Second)))
		// and its rate measured anew
		for i := range 4 {
			d := time.Duration(i+1) * 500 * time.Millisecond
			c.observe(reset.Add(10*d), at(3*time.Second+d))
		}
		assert.Equal(t, reset.Add(20*time.Second+10*time.Second), c.at(at(6*time.Second)))
	})
	t.Run("bad heartbeat values are ignored", func(t *testing.T) {
		var c machineClock
		c.observeValue(nil, local0)
		c.observeValue(&ua.DataValue{Status: ua.StatusBadNodeIDUnknown}, local0)
		c.observeValue(&ua.DataValue{Value: ua.MustVariant("not a time")}, local0)
		c.observeValue(&ua.DataValue{Value: ua.MustVariant(time.Time{})}, local0)
		assert.Equal(t, at(time.Second), c.at(at(time.Second)))
		c.observeValue(&ua.DataValue{Value: ua.MustVariant(machine0)}, local0)
		assert.Equal(t, machine0.Add(time.Second), c.at(at(time.Second)))
	})
}

func TestUntilTick(t *testing.T) {
	const iv = 500 * time.Millisecond
	base := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC) // a whole multiple of iv
	tests := []struct {
		name string
		now  time.Duration // after base
		want time.Duration
	}{
		{"on a tick: the next one", 0, iv},
		{"between ticks: the next one", 120 * time.Millisecond, 380 * time.Millisecond},
		{"just before a tick: the one after", 470 * time.Millisecond, 530 * time.Millisecond},
		{"a tenth before a tick: still that tick", 450 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, untilTick(base.Add(tc.now), iv))
		})
	}
	// two endpoints at different moments wake at the same instant
	a, b := base.Add(130*time.Millisecond), base.Add(310*time.Millisecond)
	assert.Equal(t, a.Add(untilTick(a, iv)), b.Add(untilTick(b, iv)))
}
