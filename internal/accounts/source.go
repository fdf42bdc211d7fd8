package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Source says where one credential comes from. Exactly one of Env, File and
// Command is set.
type Source struct {
	Env     string   // environment variable name
	File    string   // path; "~" is the home directory, relative to the accounts file's directory
	Command []string // argv, run without a shell; stdout is the value
	// Line and Col locate the source in the accounts file.
	Line, Col int
}

// Describe says where the value comes from, never what it is:
// "env BINANCE_API_KEY", "file ~/.config/x.secret", "command [pass show x]".
func (s *Source) Describe() string {
	switch {
	case s == nil:
		return "none"
	case s.Env != "":
		return "env " + s.Env
	case s.File != "":
		return "file " + s.File
	case len(s.Command) > 0:
		return fmt.Sprintf("command %v", s.Command)
	}
	return "none"
}

// Limits on what a source may produce.
const (
	// MaxSecretBytes caps a secret file and a command's stdout (an RSA
	// private key PEM is about 3 KiB).
	MaxSecretBytes = 64 << 10
	// DefaultCommandTimeout bounds a command source.
	DefaultCommandTimeout = 10 * time.Second
)

// ErrSource is wrapped by every error reading a source, so callers can tell
// a credential problem from an exchange error.
var ErrSource = errors.New("credential unavailable")

// sourceError is a credential that could not be read. Its message names
// the source and the reason, never the value.
type sourceError struct {
	msg string
	err error
}

func (e *sourceError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *sourceError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrSource, e.err}
	}
	return []error{ErrSource}
}

func srcErr(err error, format string, args ...any) error {
	return &sourceError{msg: fmt.Sprintf(format, args...), err: err}
}

// read returns the trimmed value of s. dir is the accounts file's
// directory; home expands "~".
func (r Resolver) read(ctx context.Context, s *Source, dir string) (string, error) {
	var (
		v   string
		err error
	)
	switch {
	case s.Env != "":
		v = r.getenv(s.Env)
		if strings.TrimSpace(v) == "" {
			return "", srcErr(nil, "env %s is not set", s.Env)
		}
	case s.File != "":
		v, err = r.readFile(s.File, dir)
	case len(s.Command) > 0:
		v, err = r.runCommand(ctx, s.Command, dir)
	default:
		return "", srcErr(nil, "no source given")
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(v), nil
}

func (r Resolver) getenv(name string) string {
	if r.Getenv == nil {
		return os.Getenv(name)
	}
	return r.Getenv(name)
}

// expandPath applies "~" and makes a relative path relative to dir.
func (r Resolver) expandPath(p, dir string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if r.Home == "" {
			return "", srcErr(nil, "file %s: home directory unknown ($HOME not set)", p)
		}
		return filepath.Join(r.Home, p[1:]), nil
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(dir, p), nil
	}
	return p, nil
}

// readFile reads a secret file, refusing one that group or others can
// access (checked on the open file, so it cannot be swapped in between).
func (r Resolver) readFile(p, dir string) (string, error) {
	path, err := r.expandPath(p, dir)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", srcErr(unwrapPathError(err), "file %s", p)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", srcErr(unwrapPathError(err), "file %s", p)
	}
	if !st.Mode().IsRegular() {
		return "", srcErr(nil, "file %s is not a regular file", p)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", srcErr(nil, "file %s has mode %04o: it must not be accessible by group or others; fix: chmod 600 %s", p, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return "", srcErr(unwrapPathError(err), "file %s", p)
	}
	if len(data) > MaxSecretBytes {
		return "", srcErr(nil, "file %s is larger than %d bytes", p, MaxSecretBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", srcErr(nil, "file %s is empty", p)
	}
	return string(data), nil
}

// unwrapPathError drops the *os.PathError wrapper (its message repeats the
// expanded path, which the caller already names).
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// runCommand runs argv without a shell and returns its stdout. Its stderr
// is never put in an error: a failing secret helper may print the secret.
func (r Resolver) runCommand(ctx context.Context, argv []string, dir string) (string, error) {
	timeout := r.CommandTimeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdin = nil
	stdout := &capWriter{max: MaxSecretBytes}
	stderr := &capWriter{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Do not wait forever for grandchildren holding the pipes open.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	desc := fmt.Sprintf("command %v", argv)
	switch {
	case ctx.Err() != nil:
		return "", srcErr(ctx.Err(), "%s", desc)
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return "", srcErr(context.DeadlineExceeded, "%s timed out after %s", desc, timeout)
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			// Only the status: stderr may hold the secret.
			return "", srcErr(nil, "%s failed with %s (stderr not shown)", desc, ee.ProcessState)
		}
		return "", srcErr(err, "%s", desc)
	case stdout.over:
		return "", srcErr(nil, "%s printed more than %d bytes", desc, MaxSecretBytes)
	case len(bytes.TrimSpace(stdout.buf.Bytes())) == 0:
		return "", srcErr(nil, "%s printed nothing on stdout", desc)
	}
	return stdout.buf.String(), nil
}

// capWriter keeps at most max bytes and notes whether more were written.
type capWriter struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); len(p) > room {
		w.over = true
		if room > 0 {
			w.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return w.buf.Write(p)
}
