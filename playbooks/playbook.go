// Package playbooks is the playbook model: the types the runner executes,
// strict YAML parsing and validation, the when language, parameter
// templates, and the built-in playbooks (embedded from builtin/*.yaml).
//
// Parse checks everything that can be checked from the file alone and
// reports every problem at once, each with the file:line:col of the
// offending YAML node (as an internal/yamlx Diagnostics error). Check adds
// the checks that need context: the configured accounts, what each
// exchange supports and the inputs the user gave. The format is documented
// for users in FORMAT.md.
//
// The package is a leaf: it imports only executors, internal/yamlx, the
// YAML library, go-multierror and the standard library.
package playbooks

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/yamlx"
)

// MaxFileSize is the largest playbook file accepted.
const MaxFileSize = 1 << 20

// MaxRetries is the largest value of a step's retries.
const MaxRetries = 10

// On-error policies of a step.
const (
	OnErrorContinue = "continue"
	OnErrorAbort    = "abort"
)

// Playbook is a parsed, validated playbook.
type Playbook struct {
	Name, Description string
	File              string // path, or "builtin:NAME"
	Source            []byte
	SHA256            string  // hex sha256 of Source
	Inputs            []Input // in file order
	Targets           Targets
	Steps             []Step
}

// Input is a declared input (--input NAME=VALUE).
type Input struct {
	Name, Description, Default string
	Required                   bool
	Pos                        Pos
}

// Targets selects the accounts a playbook acts on. All targets every
// configured account; otherwise an account is targeted when it matches
// every criterion given: its name is in Accounts (if set), it has one of
// Tags (if set), its exchange is in Exchanges (if set).
type Targets struct {
	All                         bool
	Accounts, Tags, Exchanges   []string
	Pos                         Pos
	accountPos, tagPos, exchPos []Pos // position of each list element
}

// Pos is a position in a playbook file.
type Pos struct {
	File      string
	Line, Col int
}

// String returns "file:line:col".
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Step is one step of a playbook.
type Step struct {
	ID, Action string
	// Description is an optional human explanation of the step.
	Description string
	// With is typed and validated against the action's ParamSpecs (Go types
	// per executors.CheckValue). Defaults are NOT applied (the runner calls
	// executors.WithDefaults); strings may still contain templates (see
	// RenderParams).
	With         executors.Params
	When         *Expr         // nil: always
	Timeout      time.Duration // 0: runner default
	Retries      int           // 0..MaxRetries
	OnError      string        // OnErrorContinue (default) | OnErrorAbort
	Irreversible bool
	// Barrier: every account finishes this step before any account starts
	// a later one (e.g. the leaked key's deletion is the run's first
	// mutation everywhere).
	Barrier bool
	Pos     Pos
}

// AccountRef is what a playbook knows about an account.
type AccountRef struct {
	Name, Exchange string
	Tags           []string
}

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtins returns the names of the built-in playbooks, sorted.
func Builtins() []string {
	entries, _ := fs.ReadDir(builtinFS, "builtin")
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Builtin returns the named built-in playbook.
func Builtin(name string) (*Playbook, error) {
	if strings.ContainsAny(name, `/\`) || name == "" {
		return nil, fmt.Errorf("no built-in playbook %q (built-ins: %s)", name, strings.Join(Builtins(), ", "))
	}
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no built-in playbook %q (built-ins: %s)", name, strings.Join(Builtins(), ", "))
	}
	return Parse("builtin:"+name, data)
}

// Load returns the built-in playbook nameOrPath, or else parses the file at
// that path (at most MaxFileSize bytes).
func Load(nameOrPath string) (*Playbook, error) {
	for _, b := range Builtins() {
		if b == nameOrPath {
			return Builtin(b)
		}
	}
	fh, err := os.Open(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			return nil, fmt.Errorf("playbook %q: not a built-in (built-ins: %s) and no such file", nameOrPath, strings.Join(Builtins(), ", "))
		}
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read playbook: %w", err)
	}
	if len(data) > MaxFileSize {
		var d yamlx.Diagnostics
		d.AddAt(nameOrPath, 0, 0, "file is too large (limit %d bytes)", MaxFileSize)
		return nil, d.Err()
	}
	return Parse(nameOrPath, data)
}

// Parse parses and validates a playbook. The error, if any, is a yamlx
// Diagnostics error listing every problem with its position.
func Parse(file string, data []byte) (*Playbook, error) {
	sum := sha256.Sum256(data)
	pb := &Playbook{File: file, Source: data, SHA256: hex.EncodeToString(sum[:])}
	root, err := yamlx.Parse(file, data, yamlx.Limits{MaxBytes: MaxFileSize})
	if err != nil {
		return nil, err
	}
	p := &parser{file: file, pb: pb}
	p.playbook(root)
	if err := p.d.Err(); err != nil {
		return nil, err
	}
	return pb, nil
}
