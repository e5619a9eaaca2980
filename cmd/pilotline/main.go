// Command pilotline runs the Pilotline MES for a CNC pilot line: the
// simulated line over OPC UA, acquisition, the MES on bbolt, and the
// digital twin web view. See `pilotline help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/pilotline/pilotline/mes"
)

const usage = `pilotline — MES and digital twin for a CNC pilot line of dental-bur tool grinders

Usage:
  pilotline <command> [flags]

Commands:
  serve    run the MES: simulated line (or real machines), acquisition, store, twin web view and API
  sim      serve the simulated line over OPC UA only
  probe    browse a machine's OPC UA server and print the node mapping acquisition would use
  plant    the plant view: every line on the plant's MQTT broker, live, from a separate process
  backup   write a consistent copy of the store to a file
  export   write a batch's trace record: CSV, JSON, PDF or a verifiable bundle
  report   write a batch's pilot-run report (health check and prescription): JSON, HTML or PDF
  verify   check the audit chain, e-signatures and records (or a bundle) for alterations
  soak     run the binary through a simulated shift with faults and check the invariants
  version  print the version
  help     this text

Run 'pilotline <command> --help' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 on success,
// 2 on bad usage or configuration, 3 when the store could not be opened or
// the server not reached, 1 on any other runtime failure (exitcode.go).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runMain(ctx, NewServeMain(stdout, stderr), rest, stderr)
	case "sim":
		return runMain(ctx, NewSimMain(stdout, stderr), rest, stderr)
	case "plant":
		return runMain(ctx, NewPlantMain(stdout, stderr), rest, stderr)
	case "probe":
		return runMain(ctx, NewProbeMain(stdout, stderr), rest, stderr)
	case "backup":
		return runMain(ctx, NewBackupMain(stdout, stderr), rest, stderr)
	case "export":
		return runMain(ctx, NewExportMain(stdout, stderr), rest, stderr)
	case "report":
		return runMain(ctx, NewReportMain(stdout, stderr), rest, stderr)
	case "verify":
		return runMain(ctx, NewVerifyMain(stdout, stderr), rest, stderr)
	case "soak":
		return runMain(ctx, NewSoakMain(stdout, stderr), rest, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "pilotline", Version())
		return 0
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "pilotline: unknown command %q (try 'pilotline help')\n", cmd)
	return 2
}

// Program is one command: parse its flags, run until ctx is done or the
// work is finished, then release everything.
type Program interface {
	ParseFlags(ctx context.Context, args []string) error
	Run(ctx context.Context) error
	Close() error
}

// errUsage marks errors already reported by the flag package.
type errUsage struct{ err error }

func (e errUsage) Error() string { return e.err.Error() }

func runMain(ctx context.Context, p Program, args []string, stderr io.Writer) int {
	if err := p.ParseFlags(ctx, args); err != nil {
		if _, ok := err.(errUsage); ok {
			if err.Error() == "help" {
				return 0
			}
			return 2
		}
		fmt.Fprintf(stderr, "pilotline: %s\n", describe(err))
		return 2
	}
	err := p.Run(ctx)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "pilotline: %s\n", describe(err))
		return exitCode(err)
	}
	return exitOK
}

// describe renders an error for a person: the message of an application
// error, the whole chain of anything else.
func describe(err error) string {
	if code := mes.ErrorCode(err); code != mes.EINTERNAL {
		return mes.ErrorMessage(err)
	}
	return err.Error()
}

// Version is the module version the binary was built from, with the VCS
// revision when known.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
