package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The ledger of applied plans: one file per plan hash in a per-user state
// directory, created with O_EXCL before anything is sent, so a plan is
// applied at most once on this machine whatever runs directory each apply
// uses (two applies started at once: one wins, the other is refused).
//
// The directory is $PANICBUTTON_STATE_DIR, else $XDG_STATE_HOME/panicbutton,
// else $HOME/.local/state/panicbutton (the XDG default), else the OS user
// config directory (os.UserConfigDir)/panicbutton/state; inside it,
// applied-plans/<plan hash>.json.

// ErrAlreadyApplied is returned by MarkApplied for a plan applied before.
var ErrAlreadyApplied = errors.New("plan already applied")

// Applied is the ledger record of one apply.
type Applied struct {
	PlanHash string    `json:"plan_hash"`
	PlanID   string    `json:"plan_id"`
	At       time.Time `json:"applied_at"`
	RunDir   string    `json:"run_dir"`
}

// StateDir returns the per-user state directory (see the package comment).
func StateDir(getenv func(string) string) (string, error) {
	if d := getenv("PANICBUTTON_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "panicbutton"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "panicbutton"), nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no state directory for the applied-plans ledger (set PANICBUTTON_STATE_DIR): %w", err)
	}
	return filepath.Join(d, "panicbutton", "state"), nil
}

func ledgerPath(stateDir, hash string) string {
	return filepath.Join(stateDir, "applied-plans", hash+".json")
}

// LookupApplied returns the record of an earlier apply of hash, if any.
func LookupApplied(stateDir, hash string) (*Applied, error) {
	b, err := os.ReadFile(ledgerPath(stateDir, hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applied-plans ledger: %w", err)
	}
	var a Applied
	if err := json.Unmarshal(b, &a); err != nil {
		// A record that exists but does not parse still means applied.
		return &Applied{PlanHash: hash}, nil
	}
	return &a, nil
}

// MarkApplied records the apply of hash; ErrAlreadyApplied (with the
// earlier record) when it was recorded before.
func MarkApplied(stateDir string, rec Applied) (*Applied, error) {
	dir := filepath.Dir(ledgerPath(stateDir, rec.PlanHash))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("applied-plans ledger: %w", err)
	}
	fh, err := os.OpenFile(ledgerPath(stateDir, rec.PlanHash), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		prev, _ := LookupApplied(stateDir, rec.PlanHash)
		return prev, ErrAlreadyApplied
	}
	if err != nil {
		return nil, fmt.Errorf("applied-plans ledger: %w", err)
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	_, werr := fh.Write(append(b, '\n'))
	serr := fh.Sync()
	cerr := fh.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("applied-plans ledger: %w", err)
	}
	return nil, nil
}
