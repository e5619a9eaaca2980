package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServe_PublishesToThePlantBus runs the whole line with --mqtt against
// Mosquitto: the line is born as a Sparkplug edge node and finished burs
// appear in the namespace.
func TestServe_PublishesToThePlantBus(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	root := "pilotline/site/grinding/cnc-pilot-line-1"
	rec := mqtttest.MustRecorder(t, broker.URL(), "spBv1.0/#", root+"/#")
	m := MustRunServe(t, "--speed", "400", "--mqtt", broker.URL())

	msgs := rec.WaitFor("a finished bur", func(ms []mqtttest.Message) bool {
		for _, m := range ms {
			if strings.HasSuffix(m.Topic, "/event/bur-finished") {
				return true
			}
		}
		return false
	})
	var births, data int
	var bf mqtt.BurFinished
	for _, msg := range msgs {
		switch {
		case strings.Contains(msg.Topic, "/NBIRTH/cnc-pilot-line-1"):
			births++
		case strings.Contains(msg.Topic, "/DDATA/"):
			data++
		case strings.HasSuffix(msg.Topic, "/event/bur-finished") && bf.Serial == "":
			require.NoError(t, json.Unmarshal(msg.Payload, &bf))
		}
	}
	assert.Equal(t, 1, births)
	assert.Positive(t, data)
	assert.NotEmpty(t, bf.Serial)
	assert.Positive(t, bf.Operation, "the route operation of the program")
	assert.True(t, m.publisher.Status().Connected)
}

func TestServe_BadMQTTURL(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:1883", "tcp://127.0.0.1", "broker"} {
		var stderr bytes.Buffer
		m := NewServeMain(&bytes.Buffer{}, &stderr)
		err := m.ParseFlags(context.Background(), []string{"--mqtt", url, "--data", t.TempDir()})
		require.Error(t, err, url)
		assert.Contains(t, err.Error(), "--mqtt", url)
	}
}
