package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/pilotline/pilotline/opcua/sim"
)

// SimMain is `pilotline sim`: the simulated line alone, over OPC UA.
type SimMain struct {
	commonFlags
	Autorun bool

	stdout, stderr io.Writer
	logger         *slog.Logger
	opts           sim.Options
	line           *sim.Line
}

// NewSimMain returns the sim command writing to stdout and stderr.
func NewSimMain(stdout, stderr io.Writer) *SimMain { return &SimMain{stdout: stdout, stderr: stderr} }

// ParseFlags parses and validates the flags and the line configuration.
func (m *SimMain) ParseFlags(_ context.Context, args []string) error {
	fs := newFlagSet("sim", "Serves the simulated pilot line over OPC UA (one endpoint per grinder by default)\nand prints every endpoint URL on its own line.", m.stderr)
	m.register(fs, 4840)
	fs.BoolVar(&m.Autorun, "autorun", false, "let the line run on its own, without an MES dispatching jobs")
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
