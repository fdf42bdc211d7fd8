package cli

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

var updateScripts = flag.Bool("update", false, "update testscript golden output in testdata/script")

func TestMain(m *testing.M) {
	// The emulator's master keys only die when a test kills them: tests
	// that do not exercise the hold must not wait for its 30m default.
	// (This runs in the script subprocesses too.) Hold tests pass --hold.
	defaultHold = 50 * time.Millisecond
	testscript.Main(m, map[string]func(){
		"panicbutton": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script. Every
// script runs with HOME and XDG_CONFIG_HOME inside its work dir and with
// PANICBUTTON_LOOPBACK_ONLY set, so nothing can reach a real exchange: only
// an emulator started by the script (command `emulator`) is reachable.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".config"))
			env.Setenv("PANICBUTTON_LOOPBACK_ONLY", "1")
			env.Setenv("PANICBUTTON_RUNS_DIR", filepath.Join(env.WorkDir, "runs"))
			return nil
		},
		Cmds: scriptCmds,
	})
}

// emulators holds the emulator each script started (one per script).
var emulators sync.Map // *testscript.TestScript -> *emulator.Server

// scriptCmds are the custom testscript commands.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// emulator [STATE] — starts an in-process emulator (default: the embedded
	// demo state), writes $WORK/accounts.yaml for it and sets EMULATOR (base
	// URL) and PANICBUTTON_CONFIG.
	"emulator": func(ts *testscript.TestScript, neg bool, args []string) {
		cfg := emulator.Config{Loaders: venues.DefaultLoaders()}
		fsys, name := venues.DemoState()
		if len(args) > 0 {
			p := ts.MkAbs(args[0])
			fsys, name = os.DirFS(filepath.Dir(p)), filepath.Base(p)
		}
		vs, err := emulator.LoadState(fsys, name, cfg)
		ts.Check(err)
		srv := emulator.New(cfg, vs)
		base, err := srv.Start("127.0.0.1:0")
		ts.Check(err)
		ts.Defer(func() { _ = srv.Close() })
		emulators.Store(ts, srv)
		cfgPath := ts.MkAbs("accounts.yaml")
		ts.Check(srv.WriteAccounts(cfgPath, base))
		ts.Setenv("EMULATOR", base)
		ts.Setenv("PANICBUTTON_CONFIG", cfgPath)
	},
	// mutations N — the emulator has received exactly N mutating requests.
	"mutations": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: mutations N")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		v, ok := emulators.Load(ts)
		if !ok {
			ts.Fatalf("mutations: no emulator started")
		}
		got := 0
		for _, e := range v.(*emulator.Server).Requests() {
			if e.Kind == emu.KindMutation {
				got++
			}
		}
		if (got == want) == neg {
			ts.Fatalf("emulator saw %d mutating requests, want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	},
	// pb CODE ARGS... — runs panicbutton in-process and checks its exit code;
	// stdout and stderr are available to the stdout/stderr commands.
	"pb": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 {
			ts.Fatalf("usage: pb CODE ARGS...")
		}
		want, err := strconv.Atoi(args[0])
		ts.Check(err)
		var out, errOut strings.Builder
		f := &Factory{
			In: strings.NewReader(""), Out: &out, ErrOut: &errOut,
			IsTTY: func() bool { return false }, Now: time.Now, Getenv: ts.Getenv,
			Logger: NewFactory().Logger, Registry: NewRegistry(),
			Transport: loopbackOnly{base: http.DefaultTransport}, Version: "test",
		}
		code := Run(context.Background(), f, args[1:])
		_, _ = ts.Stdout().Write([]byte(out.String()))
		_, _ = ts.Stderr().Write([]byte(errOut.String()))
		if code != want {
			ts.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out.String(), errOut.String())
		}
	},
	// chmod MODE FILE
	"chmod": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: chmod MODE FILE")
		}
		var mode os.FileMode
		for _, c := range args[0] {
			mode = mode*8 + os.FileMode(c-'0')
		}
		ts.Check(os.Chmod(ts.MkAbs(args[1]), mode))
	},
	// nosecrets DIR VALUE|@FILE... — no file under DIR (recursively) contains any VALUE.
	"nosecrets": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 2 {
			ts.Fatalf("usage: nosecrets DIR VALUE...")
		}
		root := ts.MkAbs(args[0])
		// An argument @FILE stands for the (trimmed) content of FILE.
		var values []string
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "@") {
				b, err := os.ReadFile(ts.MkAbs(a[1:]))
				ts.Check(err)
				a = strings.TrimSpace(string(b))
			}
			if len(a) < 6 {
				ts.Fatalf("nosecrets: value %q too short to search for meaningfully", a)
			}
			values = append(values, a)
		}
		n := 0
		err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n++
			for _, v := range values {
				if strings.Contains(string(b), v) {
					ts.Fatalf("secret value found in %s", path)
				}
			}
			return nil
		})
		ts.Check(err)
		if n == 0 {
			ts.Fatalf("nosecrets: no files under %s (the check would be vacuous)", root)
		}
	},
	// rundir VAR — sets VAR to the single run directory under $PANICBUTTON_RUNS_DIR (the newest).
	"rundir": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: rundir VAR")
		}
		dir := ts.Getenv("PANICBUTTON_RUNS_DIR")
		ents, err := os.ReadDir(dir)
		ts.Check(err)
		if len(ents) == 0 {
			ts.Fatalf("no run directory in %s", dir)
		}
		ts.Setenv(args[0], filepath.Join(dir, ents[len(ents)-1].Name()))
	},
}
