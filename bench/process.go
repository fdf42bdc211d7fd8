package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/internal/emulator"
	"github.com/panicbutton/panicbutton/internal/emulator/emu"
	"github.com/panicbutton/panicbutton/internal/emulator/venues"
)

// childEnv carries, to a test binary re-executed by StartEmulatorProcess,
// the state file it serves, its latency and where it writes the matching
// accounts file (JSON of childConfig).
const childEnv = "PANICBUTTON_BENCH_EMULATOR"

type childConfig struct {
	State    string        `json:"state"`
	Accounts string        `json:"accounts"`
	Latency  time.Duration `json:"latency"`
}

// child is an emulator running in a process of its own.
type child struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	accounts string
	http     *http.Client
}

// StartEmulatorProcess is StartEmulator with the emulator in a process of
// its own: this test binary, re-executed (ServeEmulatorChild serves in it).
// A venue is another machine: in one process the emulator's goroutines
// would share the run's Go scheduler, and its heap (the state, the request
// log) the run's garbage collector; here they share only the cores. The
// caller closes it.
func StartEmulatorProcess(dir string, s Size, latency time.Duration) (*Emulator, error) {
	path, err := WriteState(dir, s)
	if err != nil {
		return nil, err
	}
	c := childConfig{State: path, Accounts: filepath.Join(dir, "child-accounts.yaml"), Latency: latency}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator process: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("emulator process did not start (%q): %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return &Emulator{URL: strings.TrimSpace(line), child: &child{cmd: cmd, stdin: stdin, accounts: c.Accounts, http: &http.Client{Timeout: time.Minute}}}, nil
}

// ServeEmulatorChild serves the emulator when this process is a child
// started by StartEmulatorProcess, until its standard input closes, and
// reports whether it was one. TestMain calls it first.
func ServeEmulatorChild() bool {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return false
	}
	if err := serveChild(raw); err != nil {
		fmt.Fprintln(os.Stderr, "bench emulator process:", err)
		os.Exit(1)
	}
	return true
}

func serveChild(raw string) error {
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return fmt.Errorf("decode %s: %w", childEnv, err)
	}
	srv, url, err := startServer(c.State, c.Latency)
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.WriteAccounts(c.Accounts, url); err != nil {
		return err
	}
	fmt.Println(url)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	return nil
}

// startServer loads the state file and starts the emulator on loopback.
func startServer(path string, latency time.Duration) (*emulator.Server, string, error) {
	cfg := emulator.Config{Loaders: venues.DefaultLoaders(), Latency: latency}
	vs, err := emulator.LoadState(os.DirFS(filepath.Dir(path)), filepath.Base(path), cfg)
	if err != nil {
		return nil, "", fmt.Errorf("load generated state: %w", err)
	}
	srv := emulator.New(cfg, vs)
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("start emulator: %w", err)
	}
	return srv, url, nil
}

// admin sends one request to the child's admin API and decodes its answer
// into out (when not nil).
func (c *child) admin(base, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("emulator %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Requests is the emulator's request log.
func (em *Emulator) Requests() ([]emu.Entry, error) {
	if em.child == nil {
		return em.Server.Requests(), nil
	}
	var out []emu.Entry
	err := em.child.admin(em.URL, http.MethodGet, "/_emulator/requests", nil, &out)
	return out, err
}

// SetFaults replaces the emulator's fault configuration.
func (em *Emulator) SetFaults(f emulator.Faults) error {
	if em.child == nil {
		em.Server.SetFaults(f)
		return nil
	}
	return em.child.admin(em.URL, http.MethodPost, "/_emulator/faults", f, nil)
}

// Faults is the emulator's fault configuration.
func (em *Emulator) Faults() (emulator.Faults, error) {
	if em.child == nil {
		return em.Server.Faults(), nil
	}
	var f emulator.Faults
	err := em.child.admin(em.URL, http.MethodGet, "/_emulator/faults", nil, &f)
	return f, err
}

// WriteAccounts writes an accounts file for the emulator's accounts.
func (em *Emulator) WriteAccounts(path string) error {
	if em.child == nil {
		return em.Server.WriteAccounts(path, em.URL)
	}
	data, err := os.ReadFile(em.child.accounts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// state is each venue's snapshot as JSON, by venue name.
func (em *Emulator) state() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if em.child != nil {
		err := em.child.admin(em.URL, http.MethodGet, "/_emulator/state", nil, &out)
		delete(out, "clock")
		return out, err
	}
	for _, v := range em.Server.Venues() {
		data, err := json.Marshal(v.Snapshot())
		if err != nil {
			return nil, fmt.Errorf("venue %s snapshot: %w", v.Name(), err)
		}
		out[v.Name()] = data
	}
	return out, nil
}

// cpu is the CPU time the emulator's process has used so far; false when
// the emulator runs in this process or the platform does not tell.
func (em *Emulator) cpu() (time.Duration, bool) {
	if em.child == nil {
		return 0, false
	}
	return pidCPU(em.child.cmd.Process.Pid)
}

// Close stops the emulator (and its process).
func (em *Emulator) Close() error {
	if em.child == nil {
		return em.Server.Close()
	}
	_ = em.child.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- em.child.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = em.child.cmd.Process.Kill()
		return errors.Join(errors.New("emulator process did not stop; killed"), <-done)
	}
}
