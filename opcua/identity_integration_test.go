package opcua_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua/sim"
)

// switchProxy forwards TCP connections to a target that can be switched,
// dropping the connections it forwards at the switch: another machine
// taking over an address.
type switchProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &switchProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.switchTo("") })
	return p
}

func (p *switchProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *switchProxy) switchTo(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestSimulatedLine_AnotherMachineAtTheAddressIsNotRead: G01's address
// starts answering with G18's server. Acquisition may recognise a single
// machine by its type whatever its name, but not a different machine from
// the one the endpoint answered with before: G01 is lost, not read as G18.
func TestSimulatedLine_AnotherMachineAtTheAddressIsNotRead(t *testing.T) {
	cfg, err := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	require.NoError(t, err)
	cfg.Acquisition.Mode = mes.ModePoll
	cfg.Acquisition.PollIntervalMS = 200
	ctx, cancel := context.WithCancel(context.Background())
	line, err := sim.Start(ctx, sim.Options{Line: cfg, Speed: 200, Seed: 3, PortBase: 0, Autorun: true, Logger: logger()})
	require.NoError(t, err)
	bound := line.Bind(cfg)
	require.NotNil(t, bound)
	addr := map[string]string{}
	for _, m := range bound.Machines {
		for _, e := range bound.Endpoints {
			if e.ID == m.Endpoint {
				addr[m.ID] = strings.TrimPrefix(e.URL, "opc.tcp://")
			}
		}
	}
	require.NotEmpty(t, addr["G01"])
	require.NotEmpty(t, addr["G18"])
	proxy := newSwitchProxy(t, addr["G01"])
	for i, e := range bound.Endpoints {
		if "opc.tcp://"+addr["G01"] == e.URL {
			bound.Endpoints[i].URL = "opc.tcp://" + proxy.ln.Addr().String()
		}
	}
	a, s := runAcquisition(t, ctx, cancel, line, bound)
	require.Eventually(t, func() bool { return status(a)["G01"].CommOK && len(s.of("G01", mes.EventSample)) > 0 }, long, 10*time.Millisecond)
	for _, e := range s.of("G01", mes.EventSample) {
		require.True(t, strings.HasPrefix(e.Sample.WheelID, "G01-"), "G01 read through the proxy: %s", e.Sample.WheelID)
	}

	proxy.switchTo(addr["G18"])
	mark := len(s.of("G01", mes.EventSample))
	require.Eventually(t, func() bool {
		return strings.Contains(status(a)["G01"].LastError, "none of the 1 configured objects found")
	}, long, 10*time.Millisecond, "a reconnect to G01's address found G18 only")
	assert.False(t, status(a)["G01"].CommOK)
	assert.Equal(t, mes.StateCommLost, status(a)["G01"].State)
	for _, e := range s.of("G01", mes.EventSample)[mark:] {
		assert.False(t, strings.HasPrefix(e.Sample.WheelID, "G18-"), "G18's values read as G01's")
	}
}
