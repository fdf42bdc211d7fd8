package runner

// Resume: continuing a run that crashed or was killed (issue 6).
//
// A resumed run appends to the interrupted run's own audit trail, so that one
// trail tells the whole story. A run can be resumed when its trail has no end
// record (it crashed or was killed) or ends with an interrupted end record
// (the operator pressed Ctrl-C, exit 130); a trail that ended otherwise is
// finished. The resumed run's first record is the resume record defined by
// internal/audit (an info record without step whose "resume" is "resumed"),
// which the audit package requires right after an interrupted end. While a
// run writes its trail it holds the trail's lock (audit.Lock), so a resume
// of a run that is still going is refused instead of interleaving with it.
// What the resumed run takes over is computed from the trail alone
// (LoadResume):
//
//   - Mutations are identified by (step, account, mutation id); executors
//     keep mutation ids stable for the same target across runs. A mutation
//     with an outcome whose result is ok is done: in the resumed run its
//     intent answers executors.ErrAlreadyDone, so Request.Mutate never sends
//     it again, and an info record says it was skipped.
//   - A mutation with an intent but no outcome, or with an outcome whose
//     error leaves the result unknown (unknown-outcome, transient, timeout,
//     interrupted, unclassified), is in doubt. Executors always read the
//     current state before acting (cancel_all lists the open orders, revoke
//     lists the keys, sweep reads the balances), so the resumed run re-checks
//     in-doubt mutations against the exchange simply by running their step
//     again: an in-doubt mutation the executor plans again is one the
//     exchange still shows as not done, so it is sent (and the trail says
//     why); one the executor no longer plans is recorded as "confirmed done
//     by re-check" when its step has completed. This holds for irreversible
//     mutations too: a key deletion is planned again only if the exchange
//     still lists the key, i.e. the first deletion did not happen, so sending
//     it is the first and only successful deletion, never a second one.
//   - A mutation whose outcome is a definite refusal (rejected, auth,
//     rate-limited, unsupported, audit) failed: it was not done, and the
//     resumed run treats it like any other mutation.
//   - A read-only or manual step that completed for an account (its info
//     record has status ok or changed) keeps that result and is not run
//     again: above all, snapshot-before must stay the snapshot taken before
//     containment, not be overwritten by a post-containment one. Incomplete
//     and failed read-only steps run again. Mutating steps always run again
//     (their completed mutations are skipped one by one, as above), and so do
//     notify.webhook steps.
//
// A torn last line (a write cut short by a power loss or OS crash) is
// repaired only when every record before it verifies: the torn bytes are
// saved beside the trail and cut off, and the resumed run's opening record
// says so. Cutting it is safe: Append returns only after the whole record is
// written and synced, and executors send a mutation only after its intent
// was appended, so a torn intent belongs to a mutation that was never sent;
// a torn outcome leaves its intent without outcome, which makes the mutation
// in doubt and therefore re-checked.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/playbooks"
)

// Mutation states in an interrupted run's trail.
const (
	MutationDone    = "done"     // an outcome with ok: true
	MutationInDoubt = "in-doubt" // no outcome, or an outcome that leaves the result unknown
	MutationFailed  = "failed"   // a definite refusal: not done
)

// MutationKey identifies one mutation across runs. Mutation ids are only
// unique within one account, and two steps of a playbook may act on the same
// target, so the step and account are part of the key.
type MutationKey struct {
	Step, Account, ID string
}

func (k MutationKey) String() string { return k.Step + "/" + k.Account + "/" + k.ID }

// MutationState is what the interrupted run's trail says about one mutation.
type MutationState struct {
	MutationKey
	Kind         string `json:"kind,omitempty"`
	Target       string `json:"target,omitempty"`
	Irreversible bool   `json:"irreversible,omitempty"`
	State        string `json:"state"`                 // MutationDone, MutationInDoubt or MutationFailed
	Error        string `json:"error,omitempty"`       // of the last outcome, if any
	ErrorClass   string `json:"error_class,omitempty"` // of the last outcome, if any
	IntentSeq    int64  `json:"intent_seq,omitempty"`  // last intent record
	OutcomeSeq   int64  `json:"outcome_seq,omitempty"` // the ok outcome (done) or the last outcome
	// Sub, Label and APIKey (masked) name a temporary key of a
	// create-temp-key or delete-temp-key mutation.
	Sub    string `json:"sub,omitempty"`
	Label  string `json:"label,omitempty"`
	APIKey string `json:"api_key,omitempty"`
}

// StepKey identifies one (step, account).
type StepKey struct {
	Step, Account string
}

// CompletedStep is the final info record of a (step, account) in the
// interrupted run.
type CompletedStep struct {
	Action  string
	Status  executors.Status
	Summary string
	Seq     int64
	// Data is the recorded payload (snapshots, keys, …), as written.
	Data json.RawMessage
}

// Repair describes a torn final line cut off the trail before resuming.
type Repair struct {
	// Offset is the trail's size after the repair: where the torn bytes began.
	Offset int64 `json:"offset"`
	// Bytes is how many bytes were cut off, SHA256 their hash.
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
	// SavedAs is the file (in the run directory) that keeps the torn bytes.
	SavedAs string `json:"saved_as"`
	// AfterSeq is the seq of the last intact record.
	AfterSeq int64 `json:"after_seq"`
}

// ResumeState is what a resumed run takes over from the trail of the
// interrupted run. Build it with LoadResume (or ParseResume); a ResumeState
// serves one Run.
type ResumeState struct {
	Dir            string // run directory
	RunID          string
	Head           string // hash of the trail's last record when it was read
	Seq            int64  // seq of that record
	Playbook       string
	PlaybookFile   string
	PlaybookSHA256 string
	Mode           string
	Accounts       []string
	// Inputs are the recorded (masked) inputs; InputsSHA256 the recorded
	// hash of the real ones ("" in trails written before it existed).
	Inputs       map[string]string
	InputsSHA256 string
	// Resumes counts the earlier resumes of this run found in the trail.
	Resumes int
	// InterruptedAt is the seq of the interrupted end record the trail ends
	// with (the run was stopped with Ctrl-C); 0 when the trail has no end
	// record (the run crashed or was killed).
	InterruptedAt int64
	// Repaired is set when LoadResume cut a torn final line off the trail.
	Repaired  *Repair
	Mutations map[MutationKey]*MutationState
	Completed map[StepKey]CompletedStep
}

// ErrNotResumable wraps every reason a trail cannot be resumed that is not
// tampering (audit.ErrTampered) or a run still writing it (audit.ErrLocked):
// nothing recorded, ended without being interrupted, dry-run.
var ErrNotResumable = errors.New("run cannot be resumed")

// LoadResume reads the trail of the run in dir for resuming it. It holds
// the trail's lock while it reads (and repairs) it, so a trail another
// process is still writing is refused with an error wrapping
// audit.ErrLocked. It repairs a torn final line (see the package comment in
// resume.go) only if every record before it verifies; a trail that does not
// verify otherwise is refused with an error wrapping audit.ErrTampered. A
// trail whose last record is an end record that is not interrupted
// (audit.IsInterruptedEnd), without records, or of a run that did not
// execute is refused with an error wrapping ErrNotResumable. LoadResume
// does not check the playbook, accounts or inputs: see (*ResumeState).Check.
// The lock is released on return: audit.Open takes it again.
func LoadResume(dir string) (*ResumeState, error) {
	path := filepath.Join(dir, audit.FileName)
	release, err := audit.Lock(path)
	switch {
	case errors.Is(err, audit.ErrLocked):
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	case err != nil:
		// A missing or unreadable trail: the steps below say what is wrong.
	default:
		defer release()
	}
	repair, err := repairTornTail(dir)
	if err != nil {
		return nil, err
	}
	rep, err := audit.Verify(path, "")
	if err != nil {
		if errors.Is(err, audit.ErrTampered) && rep.FirstBad == 1 && rep.Records == 0 && strings.Contains(rep.Problem, "empty log") {
			return nil, fmt.Errorf("resume %s: the trail has no records, so nothing was sent: start a new run: %w", dir, ErrNotResumable)
		}
		return nil, fmt.Errorf("resume %s: refusing a trail that does not verify: %w", dir, err)
	}
	recs, err := audit.Read(path)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if rep.Complete && !audit.IsInterruptedEnd(recs[len(recs)-1]) {
		return nil, fmt.Errorf("resume %s: the run already finished (end record at seq %d): start a new run instead: %w", dir, rep.Records, ErrNotResumable)
	}
	st, err := ParseResume(recs)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	st.Dir = dir
	st.Repaired = repair
	return st, nil
}

// repairTornTail cuts a final line without "\n" off the trail in dir, if
// every record before it verifies. It returns nil when there is nothing to
// repair.
func repairTornTail(dir string) (*Repair, error) {
	path := filepath.Join(dir, audit.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume %s: read the audit trail: %w", dir, err)
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return nil, nil
	}
	cut := bytes.LastIndexByte(data, '\n') + 1 // 0 when no line is complete
	if cut == 0 {
		return nil, fmt.Errorf("resume %s: the trail holds only a partial first record, so nothing was sent: start a new run: %w", dir, ErrNotResumable)
	}
	// Verify the intact part on its own before touching the trail.
	tmp, err := os.CreateTemp(dir, ".verify-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("resume %s: verify before repairing: %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data[:cut])
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("resume %s: verify before repairing: %w", dir, werr)
	}
	rep, err := audit.Verify(tmp.Name(), "")
	if err != nil {
		return nil, fmt.Errorf("resume %s: the trail has a torn last line and the records before it do not verify either: refusing to repair it: %w", dir, err)
	}
	if rep.Complete {
		// Only a resume record may follow an interrupted end, and a torn
		// one is cut like any other; after any other end, nothing may.
		recs, err := audit.Read(tmp.Name())
		if err != nil || !audit.IsInterruptedEnd(recs[len(recs)-1]) {
			return nil, fmt.Errorf("resume %s: bytes follow the end record: %w", dir, audit.ErrTampered)
		}
	}
	torn := data[cut:]
	sum := sha256.Sum256(torn)
	r := &Repair{Offset: int64(cut), Bytes: len(torn), SHA256: hex.EncodeToString(sum[:]), AfterSeq: int64(rep.Records)}
	r.SavedAs = fmt.Sprintf("%s.torn-%d", audit.FileName, r.AfterSeq+1)
	// Keep the evidence first, then cut.
	if err := writeSynced(filepath.Join(dir, r.SavedAs), torn); err != nil {
		return nil, fmt.Errorf("resume %s: save the torn line: %w", dir, err)
	}
	if err := truncateSynced(path, int64(cut)); err != nil {
		return nil, fmt.Errorf("resume %s: cut the torn line: %w", dir, err)
	}
	return r, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func truncateSynced(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// definiteFailure lists the error classes of an outcome that prove the
// mutation was not carried out. Every other error (unknown-outcome,
// transient, interrupted, unclassified) leaves it in doubt.
var definiteFailure = map[string]bool{
	"rejected":     true,
	"auth":         true,
	"rate-limited": true,
	"unsupported":  true,
	"audit":        true,
}

// ParseResume classifies the records of an interrupted run's trail (in
// order, already verified). It fails, wrapping ErrNotResumable, when the
// first record is not the start record of an executed run.
func ParseResume(recs []audit.Record) (*ResumeState, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("no records: %w", ErrNotResumable)
	}
	first := recs[0]
	if first.Phase != audit.PhaseStart {
		return nil, fmt.Errorf("first record has phase %q, not start: %w", first.Phase, ErrNotResumable)
	}
	var start struct {
		Playbook       string            `json:"playbook"`
		PlaybookFile   string            `json:"playbook_file"`
		PlaybookSHA256 string            `json:"playbook_sha256"`
		Mode           string            `json:"mode"`
		Accounts       []string          `json:"accounts"`
		Inputs         map[string]string `json:"inputs"`
		InputsSHA256   string            `json:"inputs_sha256"`
	}
	if err := json.Unmarshal(first.Result, &start); err != nil {
		return nil, fmt.Errorf("start record: %w", err)
	}
	if start.Mode != ModeExecute {
		return nil, fmt.Errorf("the run's mode is %q: only %q runs can be resumed (a dry-run or plan changed nothing: start a new run): %w", start.Mode, ModeExecute, ErrNotResumable)
	}
	last := recs[len(recs)-1]
	st := &ResumeState{
		RunID: first.RunID, Head: last.Hash, Seq: last.Seq,
		Playbook: start.Playbook, PlaybookFile: start.PlaybookFile, PlaybookSHA256: start.PlaybookSHA256,
		Mode: start.Mode, Accounts: start.Accounts, Inputs: start.Inputs, InputsSHA256: start.InputsSHA256,
		Mutations: map[MutationKey]*MutationState{},
		Completed: map[StepKey]CompletedStep{},
	}
	if audit.IsInterruptedEnd(last) {
		st.InterruptedAt = last.Seq
	}
	for _, r := range recs[1:] {
		switch r.Phase {
		case audit.PhaseIntent, audit.PhaseOutcome:
			id := r.Request["mutation_id"]
			if id == "" {
				continue
			}
			k := MutationKey{Step: r.Step, Account: r.Account, ID: id}
			m := st.Mutations[k]
			if m == nil {
				m = &MutationState{MutationKey: k}
				st.Mutations[k] = m
			}
			m.Kind, m.Target = r.Request["kind"], r.Request["target"]
			m.Irreversible = m.Irreversible || r.Request["irreversible"] == "true"
			for _, f := range []struct {
				dst *string
				key string
			}{{&m.Sub, "req.sub"}, {&m.Label, "req.label"}, {&m.APIKey, "req.api_key"}} {
				if v := r.Request[f.key]; v != "" {
					*f.dst = v
				}
			}
			if m.State == MutationDone {
				continue // once done, done: a later intent was skipped or a duplicate
			}
			if r.Phase == audit.PhaseIntent {
				m.State, m.IntentSeq, m.Error, m.ErrorClass = MutationInDoubt, r.Seq, "", ""
				continue
			}
			var out struct {
				OK         bool   `json:"ok"`
				Error      string `json:"error"`
				ErrorClass string `json:"error_class"`
			}
			if err := json.Unmarshal(r.Result, &out); err != nil {
				return nil, fmt.Errorf("outcome record seq %d: %w", r.Seq, err)
			}
			m.OutcomeSeq, m.Error, m.ErrorClass = r.Seq, out.Error, out.ErrorClass
			switch {
			case out.OK:
				m.State = MutationDone
			case definiteFailure[out.ErrorClass]:
				m.State = MutationFailed
			default:
				m.State = MutationInDoubt
			}
		case audit.PhaseInfo:
			var info struct {
				Resume  string          `json:"resume"`
				Status  string          `json:"status"`
				Summary string          `json:"summary"`
				Data    json.RawMessage `json:"data"`
			}
			if json.Unmarshal(r.Result, &info) != nil {
				continue // not one of ours
			}
			if r.Step == "" && info.Resume == resumeOpening {
				st.Resumes++
				continue
			}
			if r.Step == "" || r.Account == "" || info.Status == "" {
				continue
			}
			k := StepKey{Step: r.Step, Account: r.Account}
			switch executors.Status(info.Status) {
			case executors.StatusOK, executors.StatusChanged:
				if _, seen := st.Completed[k]; seen {
					continue // the first completion is the original; later ones are kept copies
				}
				st.Completed[k] = CompletedStep{Action: r.Action, Status: executors.Status(info.Status), Summary: info.Summary, Seq: r.Seq, Data: info.Data}
			default:
				// A later attempt (after an earlier resume) that did not
				// complete does not undo a completion; otherwise the step is
				// simply not complete.
			}
		}
	}
	return st, nil
}

// List returns the mutations in state (all when state is ""), sorted.
func (s *ResumeState) List(state string) []MutationState {
	var out []MutationState
	for _, m := range s.Mutations {
		if state == "" || m.State == state {
			out = append(out, *m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MutationKey.String() < out[j].MutationKey.String() })
	return out
}

// InputsHash is the hash of a run's inputs recorded in its start record
// (inputs_sha256): the values themselves are recorded masked, so a resumed
// run proves it got the same inputs by this hash. The run id salts it.
func InputsHash(runID string, inputs map[string]string) string {
	keys := make([]string, 0, len(inputs))
	for k := range inputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write([]byte("panicbutton inputs v1\n" + runID + "\n"))
	for _, k := range keys {
		h.Write([]byte(strconv.Quote(k) + "=" + strconv.Quote(inputs[k]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Mismatch is a reason the resumed run does not match the interrupted one.
type Mismatch struct{ Problems []string }

func (m *Mismatch) Error() string {
	return "the resumed run does not match the interrupted run: " + strings.Join(m.Problems, "; ")
}

// Check compares what the resumed run was given with what the interrupted
// run recorded: the playbook's SHA-256 (a changed playbook is refused), the
// account names, and the inputs (by hash, or by their masked form in trails
// without the hash). It returns a *Mismatch listing every difference.
func (s *ResumeState) Check(playbookSHA256 string, accounts []string, inputs map[string]string) error {
	var p []string
	if playbookSHA256 != s.PlaybookSHA256 {
		p = append(p, fmt.Sprintf("the playbook %s changed since the run started (sha256 %s, recorded %s)", s.PlaybookFile, short(playbookSHA256), short(s.PlaybookSHA256)))
	}
	got, want := append([]string(nil), accounts...), append([]string(nil), s.Accounts...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		p = append(p, fmt.Sprintf("accounts are [%s], the run had [%s]", strings.Join(got, ", "), strings.Join(want, ", ")))
	}
	switch {
	case s.InputsSHA256 != "":
		if InputsHash(s.RunID, inputs) != s.InputsSHA256 {
			p = append(p, "the inputs differ from the run's: pass the same --input values again")
		}
	default:
		masked := redactInputs(inputs)
		if len(masked) != len(s.Inputs) {
			p = append(p, "the inputs differ from the run's: pass the same --input values again")
			break
		}
		for k, v := range s.Inputs {
			if mv, ok := masked[k]; !ok || mv != v {
				p = append(p, "the inputs differ from the run's: pass the same --input values again")
				break
			}
		}
	}
	if len(p) > 0 {
		return &Mismatch{Problems: p}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// resumeOpening is the "resume" member of a resumed run's opening record:
// the marker of audit's resume record, which audit requires right after an
// interrupted end record.
const resumeOpening = audit.ResumeMarker

// resumeRun is one resumed run's use of a ResumeState: which in-doubt
// mutations the executors planned again.
type resumeRun struct {
	st     *ResumeState
	mu     sync.Mutex
	resent map[MutationKey]bool
}

func newResumeRun(st *ResumeState) *resumeRun {
	if st == nil {
		return nil
	}
	return &resumeRun{st: st, resent: map[MutationKey]bool{}}
}

// openingEvent is the first record a resumed run appends. A trail has one
// start record (the interrupted run's), so the resumed run opens with an
// info record that holds the start information plus which run and head it
// continues, the repair if any, and the mutations found done and in doubt.
func (rr *resumeRun) openingEvent(startInfo map[string]any) audit.Event {
	st := rr.st
	res := map[string]any{}
	for k, v := range startInfo {
		res[k] = v
	}
	res["resume"] = resumeOpening
	res["resumes_run"] = st.RunID
	res["resumes_head"] = st.Head
	res["resumes_seq"] = st.Seq
	res["resume_number"] = st.Resumes + 1
	if st.InterruptedAt > 0 {
		res["resumes_interrupted_end_seq"] = st.InterruptedAt
	}
	if st.Repaired != nil {
		res["repaired_torn_line"] = st.Repaired
	}
	ids := func(state string) []string {
		out := []string{}
		for _, m := range st.List(state) {
			out = append(out, m.MutationKey.String())
		}
		return out
	}
	res["done"] = ids(MutationDone)
	res["in_doubt"] = ids(MutationInDoubt)
	res["failed"] = ids(MutationFailed)
	// Only what the resumed run keeps (keepable): a mutating step that
	// completed runs again, and its new result is the one that counts.
	kept := []string{}
	for k, c := range st.Completed {
		if keepable(c.Action) {
			kept = append(kept, k.Step+"/"+k.Account)
		}
	}
	sort.Strings(kept)
	res["completed_steps"] = kept
	return audit.Event{Phase: audit.PhaseInfo, Result: res}
}

// intent is called by auditHooks.Intent in a resumed run before the intent
// is recorded. It returns ErrAlreadyDone for a mutation done in the
// interrupted run (after recording that it is skipped), and records why an
// in-doubt mutation is sent again.
func (rr *resumeRun) intent(r *run, step, account, action string, m executors.Mutation) error {
	k := MutationKey{Step: step, Account: account, ID: m.ID}
	prev := rr.st.Mutations[k]
	if prev == nil {
		return nil
	}
	switch prev.State {
	case MutationDone:
		_, err := r.record(audit.Event{Phase: audit.PhaseInfo, Step: step, Account: account, Action: action,
			Request: map[string]string{"mutation_id": m.ID, "kind": m.Kind, "target": m.Target},
			Result:  map[string]any{"resume": "skipped: done in the interrupted run", "outcome_seq": prev.OutcomeSeq}})
		if err != nil && !r.o.AuditDegraded {
			// Skipping sends nothing, so it stays safe without the record.
			r.o.Warn("WARNING: audit trail: cannot record a skipped mutation: " + err.Error())
		}
		return executors.ErrAlreadyDone
	case MutationInDoubt:
		rr.mu.Lock()
		rr.resent[k] = true
		rr.mu.Unlock()
		why := "in doubt in the interrupted run; the re-check still finds the target, so it was not done: sending"
		if prev.Irreversible {
			why += " (irreversible: the exchange still lists the target, so this is the first effective send, not a second)"
		}
		_, _ = r.record(audit.Event{Phase: audit.PhaseInfo, Step: step, Account: account, Action: action,
			Request: map[string]string{"mutation_id": m.ID, "kind": m.Kind, "target": m.Target},
			Result:  map[string]any{"resume": why, "intent_seq": prev.IntentSeq}})
	}
	return nil
}

// kept returns the interrupted run's result of a completed read-only or
// manual (step, account), which the resumed run keeps instead of running
// the step again; base carries the result's identity (step, account, start).
func (rr *resumeRun) kept(step playbooks.Step, base StepResult) (StepResult, bool) {
	if rr == nil {
		return StepResult{}, false
	}
	if !keepable(step.Action) {
		return StepResult{}, false
	}
	c, ok := rr.st.Completed[StepKey{Step: step.ID, Account: base.Account}]
	if !ok || c.Action != step.Action {
		return StepResult{}, false
	}
	res := base
	res.Status = c.Status
	res.Summary = fmt.Sprintf("%s (kept from the interrupted run, seq %d)", c.Summary, c.Seq)
	res.Result = executors.Result{Status: c.Status, Summary: res.Summary}
	if len(c.Data) > 0 {
		// Snapshots are decoded again so that snapshot-<step>.json is
		// written from the original data; other payloads stay as recorded.
		var snap executors.Snapshot
		if step.Action == executors.SnapshotBalances && json.Unmarshal(c.Data, &snap) == nil {
			res.Result.Data = &snap
		} else {
			res.Result.Data = c.Data
		}
	}
	return res, true
}

// keepable reports whether a completed step of action keeps its result in
// a resumed run: read-only and manual steps; mutating steps and
// notify.webhook run again.
func keepable(action string) bool {
	spec, _ := executors.Lookup(action)
	return !spec.Mutating && action != executors.NotifyWebhook
}

// settle records, at the end of a resumed run, what became of every
// mutation that was in doubt: sent again (recorded when sent), confirmed
// done by the re-check (its step completed in this run without planning
// it), or still in doubt (its step did not complete).
func (rr *resumeRun) settle(r *run) {
	if rr == nil {
		return
	}
	r.mu.Lock()
	status := map[StepKey]executors.Status{}
	for _, res := range r.results {
		status[StepKey{Step: res.Step, Account: res.Account}] = res.Status
	}
	r.mu.Unlock()
	for _, m := range rr.st.List(MutationInDoubt) {
		if tempKeyKinds[m.Kind] {
			continue // settled by cleanupTempKeys (tempkeys.go)
		}
		rr.mu.Lock()
		resent := rr.resent[m.MutationKey]
		rr.mu.Unlock()
		if resent {
			continue
		}
		s := status[StepKey{Step: m.Step, Account: m.Account}]
		verdict := "confirmed done by re-check: the step read the exchange again and no longer plans it"
		if s != executors.StatusOK && s != executors.StatusChanged {
			verdict = "still in doubt: its step did not complete in the resumed run (status " + string(s) + ")"
			if s == "" {
				verdict = "still in doubt: its step did not run in the resumed run"
			}
		}
		_, _ = r.record(audit.Event{Phase: audit.PhaseInfo, Step: m.Step, Account: m.Account,
			Request: map[string]string{"mutation_id": m.ID, "kind": m.Kind, "target": m.Target},
			Result:  map[string]any{"resume": verdict, "intent_seq": m.IntentSeq}})
	}
}
