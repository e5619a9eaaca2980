package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
)

// commonFlags are the flags every line command shares.
type commonFlags struct {
	ConfigPath string
	DataDir    string
	Speed      float64
	Seed       int64
	PortBase   int
	LogLevel   string
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultPortBase int) {
	fs.StringVar(&c.ConfigPath, "config", "", "line configuration `FILE` (JSON); default: the embedded 25-grinder line (fixtures/line.json)")
	fs.StringVar(&c.DataDir, "data", "./data", "data `DIR`: store (pilotline.db), OPC UA client certificate (pki/)")
	fs.Float64Var(&c.Speed, "speed", 1, "simulated seconds per real second (simulated line only), e.g. 60")
	fs.Int64Var(&c.Seed, "seed", 1, "random seed of the simulated line; the same seed gives the same run")
	fs.IntVar(&c.PortBase, "port-base", defaultPortBase, "simulated endpoints on ports `N`, N+1, …; 0 = free ports chosen at start")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (c *commonFlags) validate() error {
	if c.Speed <= 0 || c.Speed > 100000 {
		return fmt.Errorf("--speed: must be in (0, 100000], got %v", c.Speed)
	}
	if c.PortBase < 0 || c.PortBase > 65000 {
		return fmt.Errorf("--port-base: must be 0..65000, got %d", c.PortBase)
	}
	if c.DataDir == "" {
		return errors.New("--data: must not be empty")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return nil
}

// loadLine loads the line configuration from --config, or the embedded default.
func (c *commonFlags) loadLine() (*mes.LineConfig, error) {
	if c.ConfigPath == "" {
		return mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	}
	return mes.LoadLineConfigFile(c.ConfigPath)
}

func (c *commonFlags) logger(w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(c.LogLevel)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: want debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// parse runs fs over args and turns the flag package's outcomes into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errUsage{errors.New("help")}
	} else if err != nil {
		return errUsage{err}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return errUsage{errors.New("unexpected arguments")}
	}
	return nil
}

func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pilotline %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		printFlags(fs)
	}
	return fs
}

// printFlags lists the flags GNU-style (--name VALUE), as the README shows them.
func printFlags(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(fs.Output(), line)
	})
}
