package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/opcua/sim"
)

// SimMain is `pilotline sim`: the simulated line alone, over OPC UA.
type SimMain struct {
	commonFlags
	Autorun     bool
	Control     string // fault-injection and state API address, "" none
	WriteConfig string // file to write the bound configuration to, "" none

	stdout, stderr io.Writer
	logger         *slog.Logger
	opts           sim.Options
	line           *sim.Line
	cfg            *mes.LineConfig
}

// NewSimMain returns the sim command writing to stdout and stderr.
func NewSimMain(stdout, stderr io.Writer) *SimMain { return &SimMain{stdout: stdout, stderr: stderr} }

// ParseFlags parses and validates the flags and the line configuration.
func (m *SimMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("sim", "Serves the simulated pilot line over OPC UA (one endpoint per grinder by default)\nand prints every endpoint URL on its own line.", m.stderr)
	m.register(fs, 4840)
	fs.BoolVar(&m.Autorun, "autorun", false, "let the line run on its own, without an MES dispatching jobs")
	fs.StringVar(&m.Control, "control", "", "serve the fault-injection and state API on `ADDR` (loopback, e.g. 127.0.0.1:0); prints \"control http://ADDR\"")
	fs.StringVar(&m.WriteConfig, "write-config", "", "write the configuration bound to the served endpoints to `FILE`, for serve --sim=false --config FILE")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	line, err := m.loadLine()
	if err != nil {
		return err
	}
	m.logger = m.commonFlags.logger(m.stderr)
	captureStdLog(m.logger)
	m.cfg = line
	m.opts = sim.Options{Line: line, Speed: m.Speed, Seed: m.Seed, PortBase: m.PortBase, Autorun: m.Autorun, Logger: m.logger}
	return nil
}

// Run serves the line until ctx is done.
func (m *SimMain) Run(ctx context.Context) error {
	l, err := sim.Start(ctx, m.opts)
	if err != nil {
		return fmt.Errorf("start simulated line: %w", err)
	}
	m.line = l
	if m.WriteConfig != "" {
		if err := writeBoundConfig(m.WriteConfig, l.Bind(m.cfg)); err != nil {
			return err
		}
	}
	if m.Control != "" {
		addr, err := sim.NewControl(l, m.logger.With("component", "sim-control")).Serve(ctx, m.Control)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.stdout, "control http://%s\n", addr)
	}
	for _, e := range l.Endpoints() {
		fmt.Fprintln(m.stdout, e.URL)
	}
	m.logger.Info("simulated line running", "endpoints", len(l.Endpoints()), "speed", m.Speed, "autorun", m.Autorun)
	<-ctx.Done()
	return nil
}

// Close stops the simulated line.
func (m *SimMain) Close() error {
	if m.line == nil {
		return nil
	}
	return m.line.Close()
}

// writeBoundConfig writes c as JSON to path atomically (temporary file and
// rename), so a reader polling for the file never sees half of it.
//
// The simulator names a per-machine endpoint after its machine, but a line
// configuration keeps one namespace for machine, robot, station and
// endpoint ids, so the file gives every endpoint the id "ep-" + the
// simulator's and points machines, robots and stations at that.
func writeBoundConfig(path string, c *mes.LineConfig) error {
	if c == nil {
		return errors.New("--write-config: cannot copy the configuration")
	}
	for i := range c.Endpoints {
		c.Endpoints[i].ID = boundEndpointID(c.Endpoints[i].ID)
	}
	for i := range c.Machines {
		c.Machines[i].Endpoint = boundEndpointID(c.Machines[i].Endpoint)
	}
	for i := range c.Robots {
		c.Robots[i].Endpoint = boundEndpointID(c.Robots[i].Endpoint)
	}
	for i := range c.Stations {
		c.Stations[i].Endpoint = boundEndpointID(c.Stations[i].Endpoint)
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("--write-config: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("--write-config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("--write-config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--write-config: %w", err)
	}
	return nil
}

// boundEndpointID is the id of the simulator's endpoint id in a written configuration.
func boundEndpointID(id string) string { return "ep-" + id }
