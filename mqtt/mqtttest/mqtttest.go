// Package mqtttest runs the real parts of the plant bus for tests: a
// Mosquitto broker (Debian's mosquitto package) on a free port of
// 127.0.0.1, a recording subscriber, and the Eclipse Tahu JavaScript
// payload decoder (npm sparkplug-payload, installed by make deps-mqtt).
package mqtttest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// Wait bounds each wait for a message: generous, since a loaded CI machine
// runs the broker, the line and the tests on two cores.
const Wait = 60 * time.Second

// Broker is a Mosquitto process that a test can kill and restart on the
// same port.
type Broker struct {
	tb   testing.TB
	path string
	conf string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
	log  bytes.Buffer // what every run of the broker printed
}

// Log is what the broker printed so far.
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

// BrokerOptions configure a test broker.
type BrokerOptions struct {
	// Persistent keeps subscriptions and queued messages in a file saved
	// at every change, so persistent sessions survive a SIGKILL, as a
	// plant's broker keeps its historian's session.
	Persistent bool
}

// MustMosquitto starts Mosquitto on a free port of 127.0.0.1 and stops it
// at cleanup. It skips when mosquitto is not installed (fails instead
// with PILOTLINE_REQUIRE_BROKER=1).
func MustMosquitto(tb testing.TB) *Broker {
	tb.Helper()
	return MustMosquittoWith(tb, BrokerOptions{})
}

// MustMosquittoWith is MustMosquitto with options.
func MustMosquittoWith(tb testing.TB, o BrokerOptions) *Broker {
	tb.Helper()
	path, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, serr := os.Stat(p); serr == nil {
				path, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("PILOTLINE_REQUIRE_BROKER") == "1" {
			tb.Fatalf("mosquitto not installed (make deps-mqtt)")
		}
		tb.Skip("mosquitto not installed; set PILOTLINE_REQUIRE_BROKER=1 to fail instead")
	}
	b := &Broker{tb: tb, path: path, port: FreePort(tb)}
	dir := tb.TempDir()
	b.conf = filepath.Join(dir, "mosquitto.conf")
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n", b.port)
	if os.Geteuid() == 0 {
		// Started as root, Mosquitto would run as the mosquitto user, who
		// may not enter the test's temporary directory.
		conf += "user root\n"
	}
	if o.Persistent {
		conf += fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\nqueue_qos0_messages true\n", dir)
	} else {
		conf += "persistence false\n"
	}
	require.NoError(tb, os.WriteFile(b.conf, []byte(conf), 0o600))
	b.Start()
	tb.Cleanup(b.Kill)
	return b
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the broker's address for MQTT clients.
func (b *Broker) URL() string { return fmt.Sprintf("tcp://127.0.0.1:%d", b.port) }

// Start starts the broker (again) and waits until it accepts connections.
func (b *Broker) Start() {
	b.tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	out := &b.log
	deadline := time.Now().Add(Wait)
	for {
		cmd := exec.Command(b.path, "-c", b.conf)
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(b.tb, cmd.Start(), "start mosquitto")
		exit := make(chan struct{})
		go func() { cmd.Wait(); close(exit) }()
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second)
			if err == nil {
				c.Close()
				b.cmd, b.exit = cmd, exit
				return
			}
			select {
			case <-exit:
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
		// The port may still be held by the killed broker's sockets.
		if time.Now().After(deadline) {
			b.tb.Fatalf("mosquitto did not start on port %d: %s", b.port, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill stops the broker with SIGKILL: no Will is published, no session
// survives (persistence is off).
func (b *Broker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.exit
	b.cmd = nil
}

// Message is one message a Recorder received.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Recorder is a subscriber that keeps every message it receives, in order.
// It reconnects by itself after a broker restart and subscribes again.
type Recorder struct {
	tb     testing.TB
	client paho.Client
	mu     sync.Mutex
	msgs   []Message
	cond   *sync.Cond
}

// MustRecorder subscribes to filters on the broker at url (QoS 1).
func MustRecorder(tb testing.TB, url string, filters ...string) *Recorder {
	tb.Helper()
	return MustSessionRecorder(tb, url, "", filters...)
}

// MustSessionRecorder is MustRecorder with a persistent session under
// clientID (none when clientID is ""): a broker with persistence queues
// its messages while it is away.
func MustSessionRecorder(tb testing.TB, url, clientID string, filters ...string) *Recorder {
	tb.Helper()
	r := &Recorder{tb: tb}
	r.cond = sync.NewCond(&r.mu)
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	handler := func(_ paho.Client, m paho.Message) {
		r.mu.Lock()
		r.msgs = append(r.msgs, Message{Topic: m.Topic(), Payload: append([]byte(nil), m.Payload()...), Retained: m.Retained()})
		r.cond.Broadcast()
		r.mu.Unlock()
	}
	clean := clientID == ""
	if clean {
		clientID = fmt.Sprintf("recorder-%d", time.Now().UnixNano())
	}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetCleanSession(clean).SetDefaultPublishHandler(handler).SetAutoReconnect(true).SetOrderMatters(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) { c.SubscribeMultiple(subs, handler) })
	r.client = paho.NewClient(o)
	tok := r.client.Connect()
	require.True(tb, tok.WaitTimeout(Wait), "recorder connect")
	require.NoError(tb, tok.Error())
	tb.Cleanup(func() { r.client.Disconnect(100) })
	// The subscription is made in the connect handler: wait for it by a
	// message of our own.
	probe := fmt.Sprintf("pilotline-test/probe/%d", time.Now().UnixNano())
	require.NoError(tb, r.client.SubscribeMultiple(map[string]byte{probe: 1}, handler).Error())
	r.client.Publish(probe, 1, false, "probe").Wait()
	r.WaitFor("the recorder's probe", func(ms []Message) bool {
		for _, m := range ms {
			if m.Topic == probe {
				return true
			}
		}
		return false
	})
	return r
}

// Checkpoint publishes a retained message and waits until the recorder
// has it: a broker with persistence (which saves on retained messages)
// then holds the recorder's session as it is now.
func (r *Recorder) Checkpoint() {
	r.tb.Helper()
	topic := CheckpointTopic + fmt.Sprint(time.Now().UnixNano())
	require.NoError(r.tb, r.client.Subscribe(topic, 1, nil).Error())
	require.NoError(r.tb, r.client.Publish(topic, 1, true, "checkpoint").Error())
	r.WaitFor("the checkpoint", func(ms []Message) bool {
		for _, m := range ms {
			if m.Topic == topic {
				return true
			}
		}
		return false
	})
}

// CheckpointTopic is the prefix of Checkpoint's topics.
const CheckpointTopic = "pilotline-test/checkpoint/"

// Client is the recorder's MQTT client, for publishing commands.
func (r *Recorder) Client() paho.Client { return r.client }

// Messages returns a copy of what was received so far.
func (r *Recorder) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// WaitFor waits until cond holds for the messages received so far, or
// fails the test after Wait.
func (r *Recorder) WaitFor(what string, cond func([]Message) bool) []Message {
	r.tb.Helper()
	deadline := time.Now().Add(Wait)
	stop := time.AfterFunc(Wait, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond(r.msgs) {
		if time.Now().After(deadline) {
			r.tb.Fatalf("no %s after %v (%d messages received)", what, Wait, len(r.msgs))
		}
		r.cond.Wait()
	}
	return append([]Message(nil), r.msgs...)
}

// Tahu is the Eclipse Tahu payload decoder run by Node.js.
type Tahu struct{ dir string }

// MustTahu returns the decoder, or skips when node or the npm package is
// missing (fails instead with PILOTLINE_REQUIRE_INTEROP=1).
func MustTahu(tb testing.TB) Tahu {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "testdata", "tahu")
	_, nodeErr := exec.LookPath("node")
	_, pkgErr := os.Stat(filepath.Join(dir, "node_modules", "sparkplug-payload"))
	if nodeErr != nil || pkgErr != nil {
		if os.Getenv("PILOTLINE_REQUIRE_INTEROP") == "1" {
			tb.Fatalf("node or sparkplug-payload missing in %s (make deps-mqtt)", dir)
		}
		tb.Skipf("node or sparkplug-payload missing in %s; set PILOTLINE_REQUIRE_INTEROP=1 to fail instead", dir)
	}
	return Tahu{dir: dir}
}

// Decoded is one payload as Tahu decoded it: 64-bit integers are strings.
type Decoded struct {
	Topic   string `json:"topic"`
	Payload struct {
		Timestamp string          `json:"timestamp"`
		Seq       *string         `json:"seq"`
		Metrics   []DecodedMetric `json:"metrics"`
	} `json:"payload"`
}

// DecodedMetric is one metric as Tahu decoded it.
type DecodedMetric struct {
	Name         string                     `json:"name"`
	Alias        string                     `json:"alias"`
	Type         string                     `json:"type"`
	Value        any                        `json:"value"`
	Timestamp    string                     `json:"timestamp"`
	IsHistorical bool                       `json:"isHistorical"`
	Properties   map[string]DecodedProperty `json:"properties"`
}

// DecodedProperty is one property of a metric.
type DecodedProperty struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Decode runs Tahu over the Sparkplug messages of msgs, in order.
func (t Tahu) Decode(tb testing.TB, msgs []Message) []Decoded {
	tb.Helper()
	var in bytes.Buffer
	n := 0
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, "spBv1.0/") {
			continue
		}
		b, _ := json.Marshal(map[string]string{"topic": m.Topic, "payload": base64.StdEncoding.EncodeToString(m.Payload)})
		in.Write(append(b, '\n'))
		n++
	}
	cmd := exec.Command("node", "decode.js")
	cmd.Dir = t.dir
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(tb, err, "tahu decode: %s", stderr.String())
	var res []Decoded
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var d Decoded
		require.NoError(tb, json.Unmarshal(sc.Bytes(), &d), "tahu output %s", sc.Text())
		res = append(res, d)
	}
	require.Len(tb, res, n, "tahu decoded every Sparkplug message")
	return res
}
