// Package cli is Rampart's command line: one file per subcommand, each filling
// an options struct, calling one library function and picking a reporter.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/report"
)

// Exit codes.
const (
	ExitOK       = 0 // nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitError    = 2 // usage or input errors (after the rest was still scanned)
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// version is set at link time with -X; otherwise the module version is used.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type streams struct {
	ctx      context.Context // ends long-running commands (with SIGINT and SIGTERM); Background when nil
	in       io.Reader
	out, err io.Writer
	// stopProfile ends a --cpuprofile, whatever the command returned.
	stopProfile func()
}

// tuneGC trades some memory for speed in a short-lived scan: the collector
// runs at a third of its default frequency (GOGC=200) while the heap stays
// under 1 GiB, and as often as needed above it. GOGC and GOMEMLIMIT override
// both. (GOGC=800 was faster on a machine where fresh memory was cheap; on
// one where page faults cost, 200 is both faster and 30% smaller.)
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainContext(context.Background(), args, stdin, stdout, stderr)
}

// MainContext is Main with a context that, when it ends, stops the
// long-running commands (servers, replicas, --follow) as SIGTERM does.
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{ctx: ctx, in: stdin, out: stdout, err: stderr}
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if s.stopProfile != nil {
		s.stopProfile()
	}
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "rampart:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "rampart:", err)
	return ExitError
}

// context is what long-running commands end with (besides signals).
func (s *streams) context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

func newRoot(s *streams) *cobra.Command {
	var verbose bool
	var cpuProfile, memProfile string
	root := &cobra.Command{
		Use:           "rampart",
		Short:         "Kubernetes hardening as code",
		Long:          "Rampart finds, explains and fixes Kubernetes security problems in manifests and clusters.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       toolVersion(),
		PersistentPreRun: func(*cobra.Command, []string) {
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(redactingHandler{slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: level})}))
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile) //nolint:gosec // the user names the file
				if err == nil && pprof.StartCPUProfile(f) == nil {
					s.stopProfile = func() {
						pprof.StopCPUProfile()
						if err := f.Close(); err != nil {
							slog.Warn("writing the CPU profile", "err", err)
						}
					}
				}
			}
			if memProfile != "" {
				stop := s.stopProfile
				s.stopProfile = func() {
					if stop != nil {
						stop()
					}
					f, err := os.Create(memProfile) //nolint:gosec // the user names the file
					if err != nil {
						slog.Warn("writing the heap profile", "err", err)
						return
					}
					defer f.Close()
					if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
						slog.Warn("writing the heap profile", "err", err)
					}
				}
			}
		},
	}
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance work)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when the command ends (for performance work)")
	_ = root.PersistentFlags().MarkHidden("memprofile")
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitError, err: err}
	})
	root.AddCommand(newScanCmd(s), newChecksCmd(s), newExplainCmd(s), newConfigCmd(s), newFixCmd(s), newRBACCmd(s), newNetpolCmd(s), newWebhookCmd(s), newAuditCmd(s), newCISCmd(s), newComplianceCmd(s), newExposureCmd(s), newReportCmd(s), newImageCmd(s), newDBCmd(s), newVersionCmd(s))
	return root
}

func usageError(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}

// writeJSON writes v as indented JSON, the form of every analyzer's -o json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// reportErr turns a reporter's unknown-format error into a usage error.
func reportErr(err error) error {
	var fe *report.FormatError
	if errors.As(err, &fe) {
		return usageError("%s", fe.Error())
	}
	return err
}
