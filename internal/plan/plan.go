// Package plan is the saved, approved plan of a run (issue 13): what
// `panicbutton run PLAYBOOK --dry-run --plan-out FILE` writes and what
// `panicbutton apply FILE` executes.
//
// A plan file is JSON: an envelope {kind, format, digest, plan} whose
// digest is the SHA-256 of the plan object's exact bytes in the file, so
// that any edit (even whitespace) is detected. The digest is the plan's
// hash: the apply's audit trail names it and `audit verify` checks it.
// It is not a signature: whoever approves a plan approves it by its hash.
//
// The plan holds the playbook's hash, the accounts file's hash, the inputs
// (URL inputs, which usually carry tokens, only as a hash), the accounts,
// and per step and account the exact targets read from the live state
// (orders by product and symbol, key ids, withdrawal ids, transfer
// amounts), the digest of the state they were computed from, the creation
// time and the expiry. It holds no secret: key ids are masked as in every
// other output.
//
// Binding (Approver): irreversible actions touch only approved targets;
// cancelling orders (and arming the dead-man switch) is approved as a
// scope, so orders placed since the plan are cancelled too.
package plan

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/runner"
	"github.com/panicbutton/panicbutton/playbooks"
)

// Kind is the envelope's kind field.
const Kind = "panicbutton-plan"

// FormatVersion is the plan format this version writes and the newest it reads.
const FormatVersion = 1

// DefaultTTL is how long a plan stays valid unless --plan-ttl says otherwise.
const DefaultTTL = 15 * time.Minute

// MaxFileSize bounds the plan files read.
const MaxFileSize = 64 << 20

// ErrBadPlan marks a file that is not a usable plan (not one, truncated,
// newer format, tampered).
var ErrBadPlan = errors.New("not a usable plan file")

// Plan is a saved plan.
type Plan struct {
	Kind    string    `json:"kind"`
	Format  int       `json:"format"`
	ID      string    `json:"id"` // random, unique per plan
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	TTL     string    `json:"ttl"`
	Tool    string    `json:"tool_version,omitempty"`
	// PlanRun is the run directory of the dry-run that computed the plan.
	PlanRun      string      `json:"plan_run,omitempty"`
	Playbook     PlaybookRef `json:"playbook"`
	AccountsFile FileRef     `json:"accounts_file"`
	Accounts     []Account   `json:"accounts"`
	// Inputs are the playbook inputs as given; HiddenInputs are those that
	// may carry a token (URLs with a path, query or user info), kept only
	// as sha256(plan id, name, value): apply needs them again (--input).
	Inputs       map[string]string `json:"inputs"`
	HiddenInputs map[string]string `json:"hidden_inputs,omitempty"`
	// StateDigest is the SHA-256 of every read the plan was computed from
	// (balances, keys, orders, withdrawals and the planned changes).
	StateDigest string `json:"state_digest"`
	Steps       []Step `json:"steps"`
	// Report is the dry-run's report (without the read payloads), printed
	// by `plan show` as the dry-run printed it.
	Report *runner.Report `json:"report"`
}

// PlaybookRef names the playbook and pins its content.
type PlaybookRef struct {
	Name   string `json:"name"`
	File   string `json:"file"` // path, or builtin:NAME
	SHA256 string `json:"sha256"`
}

// FileRef pins a file's content.
type FileRef struct {
	Path   string `json:"path"` // absolute
	SHA256 string `json:"sha256"`
}

// Account is one targeted account.
type Account struct {
	Name     string `json:"name"`
	Exchange string `json:"exchange"`
}

// Step is one playbook step with its approved work per account.
type Step struct {
	ID           string `json:"id"`
	Action       string `json:"action"`
	Mutating     bool   `json:"mutating,omitempty"`
	Irreversible bool   `json:"irreversible,omitempty"`
	// Scope, for order cancels and the dead-man switch, is what is approved
	// (every open order on these products at apply time).
	Scope    string        `json:"scope,omitempty"`
	Accounts []StepAccount `json:"accounts"`
}

// StepAccount is one step on one account.
type StepAccount struct {
	Account string           `json:"account"`
	Status  executors.Status `json:"status"`
	Summary string           `json:"summary"`
	// Orders are the open orders seen when planning, by product and
	// symbol (informative: order cancels are approved as a scope).
	Orders map[string]map[string][]string `json:"orders,omitempty"`
	// Targets are the exact approved targets of every other mutation
	// (key ids, withdrawal ids, transfer amounts, positions).
	Targets []executors.Change `json:"targets,omitempty"`
}

// BuildOptions is what Build needs besides the dry-run's report.
type BuildOptions struct {
	Playbook     *playbooks.Playbook
	AccountsPath string // as located; made absolute
	Accounts     []Account
	Inputs       map[string]string
	Now          time.Time
	TTL          time.Duration
	Tool         string
	PlanRun      string
}

// Build makes a plan from a dry-run report. rep must be the report of a
// dry-run of o.Playbook over o.Accounts.
func Build(rep *runner.Report, o BuildOptions) (*Plan, error) {
	if rep == nil || rep.Mode != runner.ModeDryRun {
		return nil, errors.New("plan: a plan is made from a dry-run")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.AccountsPath == "" {
		return nil, errors.New("plan: no accounts file")
	}
	abs, err := filepath.Abs(o.AccountsPath)
	if err != nil {
		return nil, err
	}
	accSum, err := FileSHA256(abs)
	if err != nil {
		return nil, fmt.Errorf("plan: accounts file: %w", err)
	}
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	p := &Plan{
		Kind: Kind, Format: FormatVersion, ID: hex.EncodeToString(idb[:]),
		Created: o.Now.UTC(), Expires: o.Now.Add(o.TTL).UTC(), TTL: o.TTL.String(), Tool: o.Tool,
		PlanRun:      o.PlanRun,
		Playbook:     PlaybookRef{Name: o.Playbook.Name, File: o.Playbook.File, SHA256: o.Playbook.SHA256},
		AccountsFile: FileRef{Path: abs, SHA256: accSum},
		Accounts:     o.Accounts,
		Inputs:       map[string]string{},
	}
	for k, v := range o.Inputs {
		if hidesToken(v) {
			if p.HiddenInputs == nil {
				p.HiddenInputs = map[string]string{}
			}
			p.HiddenInputs[k] = hiddenHash(p.ID, k, v)
			continue
		}
		p.Inputs[k] = v
	}
	p.StateDigest, err = stateDigest(rep)
	if err != nil {
		return nil, err
	}
	byStep := map[string][]runner.StepResult{}
	for _, r := range rep.Results {
		byStep[r.Step] = append(byStep[r.Step], r)
	}
	for _, s := range o.Playbook.Steps {
		spec, _ := executors.Lookup(s.Action)
		st := Step{ID: s.ID, Action: s.Action, Mutating: spec.Mutating, Irreversible: s.Irreversible}
		if scoped(s.Action) {
			st.Scope = scopeText(s)
		}
		for _, r := range byStep[s.ID] {
			sa := StepAccount{Account: r.Account, Status: r.Status, Summary: r.Summary}
			if spec.Mutating {
				for _, c := range r.Result.Changes {
					if scoped(s.Action) && c.Product != "" && c.ID != "" && c.Kind != "deadman" {
						if sa.Orders == nil {
							sa.Orders = map[string]map[string][]string{}
						}
						if sa.Orders[c.Product] == nil {
							sa.Orders[c.Product] = map[string][]string{}
						}
						sa.Orders[c.Product][c.Symbol] = append(sa.Orders[c.Product][c.Symbol], c.ID)
						continue
					}
					sa.Targets = append(sa.Targets, c)
				}
			}
			st.Accounts = append(st.Accounts, sa)
		}
		p.Steps = append(p.Steps, st)
	}
	// The report without read payloads: plan show prints the dry-run's
	// lines; the payloads are pinned by StateDigest and kept in the plan
	// run's directory.
	cp := *rep
	cp.Results = make([]runner.StepResult, len(rep.Results))
	for i, r := range rep.Results {
		r.Result.Data = nil
		cp.Results[i] = r
	}
	p.Report = &cp
	return p, nil
}

// scoped reports whether an action's mutations are approved as a scope.
func scoped(action string) bool {
	return action == executors.OrdersCancelAll || action == executors.OrdersDeadman
}

func scopeText(s playbooks.Step) string {
	products := "every product"
	if v, ok := s.With["products"]; ok {
		if l, ok := v.([]string); ok && len(l) > 0 {
			products = strings.Join(l, ", ")
		} else if l, ok := v.([]any); ok && len(l) > 0 {
			var out []string
			for _, x := range l {
				out = append(out, fmt.Sprint(x))
			}
			products = strings.Join(out, ", ")
		}
	}
	if s.Action == executors.OrdersDeadman {
		return "arm the dead-man switch on " + products
	}
	return "every open order on " + products + " at apply time (orders placed since the plan are cancelled too)"
}

// hidesToken reports whether an input value may carry a credential: a URL
// with user info, a path or a query (webhook URLs embed their token).
func hidesToken(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return false
	}
	return u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != ""
}

func hiddenHash(id, name, value string) string {
	sum := sha256.Sum256([]byte("panicbutton plan input v1\n" + id + "\n" + name + "\n" + value))
	return hex.EncodeToString(sum[:])
}

// stateDigest hashes what the plan was computed from.
func stateDigest(rep *runner.Report) (string, error) {
	type read struct {
		Step, Account, Action string
		Status                executors.Status
		Changes               []executors.Change
		Remaining             []executors.Change
		Data                  any
	}
	reads := make([]read, 0, len(rep.Results))
	for _, r := range rep.Results {
		reads = append(reads, read{r.Step, r.Account, r.Action, r.Status, r.Result.Changes, r.Result.Remaining, r.Result.Data})
	}
	sort.SliceStable(reads, func(i, j int) bool {
		if reads[i].Step != reads[j].Step {
			return reads[i].Step < reads[j].Step
		}
		return reads[i].Account < reads[j].Account
	})
	b, err := json.Marshal(reads)
	if err != nil {
		return "", fmt.Errorf("plan: state digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// envelope is the file's top level.
type envelope struct {
	Kind   string          `json:"kind"`
	Format int             `json:"format"`
	Digest string          `json:"digest"`
	Plan   json.RawMessage `json:"plan"`
}

// Encode returns the plan file's bytes and the plan's hash (the digest).
func Encode(p *Plan) ([]byte, string, error) {
	inner, err := json.Marshal(p)
	if err != nil {
		return nil, "", fmt.Errorf("plan: encode: %w", err)
	}
	env := envelope{Kind: Kind, Format: p.Format, Plan: inner}
	// The digest covers the plan object's bytes exactly as they are in the
	// file (indented): encode, read back, hash, encode again.
	first, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("plan: encode: %w", err)
	}
	var back envelope
	if err := json.Unmarshal(first, &back); err != nil {
		return nil, "", fmt.Errorf("plan: encode: %w", err)
	}
	env.Digest = digestOf(back.Plan)
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("plan: encode: %w", err)
	}
	out = append(out, '\n')
	if err := json.Unmarshal(out, &back); err != nil || digestOf(back.Plan) != env.Digest {
		return nil, "", errors.New("plan: encode: the digest does not survive a round trip")
	}
	return out, env.Digest, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// WriteFile writes p to path (mode 0600, replacing a file there) and returns its hash.
func WriteFile(path string, p *Plan) (string, error) {
	b, digest, err := Encode(p)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("plan: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("plan: write %s: %w", path, err)
	}
	return digest, nil
}

// Decode parses a plan file and checks its digest. Every error wraps
// ErrBadPlan and says what is wrong in words a human can act on.
func Decode(b []byte) (*Plan, string, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadPlan}, a...)...)
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return nil, "", bad("the file is empty")
	}
	if trimmed[0] != '{' {
		return nil, "", bad("not a panicbutton plan (not a JSON object; make one with: panicbutton run PLAYBOOK --dry-run --plan-out FILE)")
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, "", bad("the file is truncated or not valid JSON (%v): copy the plan file again, or plan again", err)
		}
		return nil, "", bad("not a panicbutton plan (%v)", err)
	}
	switch {
	case env.Kind != Kind:
		return nil, "", bad("not a panicbutton plan (kind %q, want %q)", env.Kind, Kind)
	case env.Format > FormatVersion:
		return nil, "", bad("the plan was written by a newer panicbutton (plan format %d; this version reads up to %d): apply it with that version, or plan again with this one", env.Format, FormatVersion)
	case env.Format < 1:
		return nil, "", bad("the plan has no valid format version (%d)", env.Format)
	case len(env.Plan) == 0:
		return nil, "", bad("the plan body is missing")
	}
	if got := digestOf(env.Plan); env.Digest != got {
		return nil, "", bad("the plan was modified after it was written (its digest %s does not match its content %s): plan again; never edit a plan by hand", short(env.Digest), short(got))
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(env.Plan))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, "", bad("the plan body does not parse: %v", err)
	}
	if p.Kind != Kind || p.Format != env.Format {
		return nil, "", bad("the plan body's kind/format (%q, %d) disagree with the file's (%q, %d)", p.Kind, p.Format, env.Kind, env.Format)
	}
	if p.ID == "" || p.Playbook.SHA256 == "" || p.AccountsFile.SHA256 == "" || p.Expires.IsZero() || len(p.Accounts) == 0 {
		return nil, "", bad("the plan lacks its id, playbook hash, accounts file hash, expiry or accounts")
	}
	return &p, env.Digest, nil
}

// ReadFile reads and decodes a plan file.
func ReadFile(path string) (*Plan, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadPlan, err)
	}
	if fi.IsDir() {
		return nil, "", fmt.Errorf("%w: %s is a directory", ErrBadPlan, path)
	}
	if fi.Size() > MaxFileSize {
		return nil, "", fmt.Errorf("%w: %s is too large for a plan (%d bytes)", ErrBadPlan, path, fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadPlan, err)
	}
	return Decode(b)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// Expired reports whether the plan may no longer be applied at now.
func (p *Plan) Expired(now time.Time) bool { return !now.Before(p.Expires) }

// CheckInputs merges the inputs given at apply time with the plan's: a
// visible input must not differ, a hidden one must be given again and
// match its hash. It returns the inputs to run with.
func (p *Plan) CheckInputs(given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var problems []string
	for k, v := range p.Inputs {
		out[k] = v
		if g, ok := given[k]; ok && g != v {
			problems = append(problems, fmt.Sprintf("input %s: the plan was made with a different value; plan again to change it", k))
		}
	}
	names := make([]string, 0, len(p.HiddenInputs))
	for k := range p.HiddenInputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		g, ok := given[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("input %s is kept out of the plan (it may hold a token): pass it again with --input %s=VALUE", k, k))
		case hiddenHash(p.ID, k, g) != p.HiddenInputs[k]:
			problems = append(problems, fmt.Sprintf("input %s: not the value the plan was made with", k))
		default:
			out[k] = g
		}
	}
	for k := range given {
		if _, ok := p.Inputs[k]; !ok {
			if _, ok := p.HiddenInputs[k]; !ok {
				problems = append(problems, fmt.Sprintf("input %s was not part of the plan; plan again to add it", k))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return out, nil
}

// AccountNames returns the plan's account names in order.
func (p *Plan) AccountNames() []string {
	out := make([]string, len(p.Accounts))
	for i, a := range p.Accounts {
		out[i] = a.Name
	}
	return out
}

// FileSHA256 returns the hex SHA-256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return digestOf(b), nil
}
