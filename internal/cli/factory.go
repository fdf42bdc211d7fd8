package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/panicbutton/panicbutton/executors"
)

// Factory carries everything a command needs from the process. Tests build
// their own; only Main touches os.* directly.
type Factory struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTTY reports whether In and Out are an interactive terminal.
	IsTTY  func() bool
	Now    func() time.Time
	Getenv func(string) string
	// Logger is the debug log (stderr, off unless --debug).
	Logger *slog.Logger
	// Registry holds the exchange drivers.
	Registry *executors.Registry
	// Transport is the base HTTP transport for executors (nil: default).
	Transport http.RoundTripper
	// Version is the tool version recorded in the audit trail.
	Version string

	input lineInput // the one reader of In (see readLine)
}

// Env returns the executors.Env for this process.
func (f *Factory) Env() executors.Env {
	return executors.Env{Now: f.Now, Logger: f.Logger, Transport: f.Transport}.Defaults()
}

// Version of the tool; set with -ldflags "-X github.com/panicbutton/panicbutton/internal/cli.version=…".
var version = "0.1.0-dev"

// NewFactory returns the Factory of the real process.
func NewFactory() *Factory {
	f := &Factory{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		IsTTY: func() bool {
			return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
		},
		Now:      time.Now,
		Getenv:   os.Getenv,
		Logger:   slog.New(slog.DiscardHandler),
		Registry: NewRegistry(),
		Version:  version,
	}
	if os.Getenv("PANICBUTTON_LOOPBACK_ONLY") != "" {
		f.Transport = loopbackOnly{base: executors.SharedTransport()}
	}
	return f
}

// Main runs the CLI with the process's arguments and returns the exit code.
func Main() int {
	f := NewFactory()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, f, os.Args[1:])
}

// Run executes args against f and returns the exit code.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.In)
	root.SetOut(f.Out)
	root.SetErr(f.ErrOut)
	err := root.ExecuteContext(ctx)
	return exitCode(f, err)
}
