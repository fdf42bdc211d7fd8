package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/audit"
	"github.com/panicbutton/panicbutton/playbooks"
)

const resumePB = `name: resume-test
targets: {all: true}
steps:
  - id: snap
    action: snapshot.balances
  - id: revoke
    action: keys.revoke
    with: {scope: sub_accounts, method: delete}
    irreversible: true
`

func parseResumePB(t *testing.T) *playbooks.Playbook {
	t.Helper()
	pb, err := playbooks.Parse("resume.yaml", []byte(resumePB))
	if err != nil {
		t.Fatalf("parse playbook: %v", err)
	}
	return pb
}

// trail writes a hand-made audit trail into a new run directory: a start
// record for an executed run of pb on account "a1", then events.
func trail(t *testing.T, pb *playbooks.Playbook, mode string, events ...audit.Event) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	log, err := audit.Create(dir, "run-1", audit.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	inputs := map[string]string{"leaked_key": "abcdefgh12345678"}
	start := audit.Event{Phase: audit.PhaseStart, Result: map[string]any{
		"playbook": pb.Name, "playbook_file": pb.File, "playbook_sha256": pb.SHA256, "mode": mode,
		"accounts": []string{"a1"}, "inputs": redactInputs(inputs), "inputs_sha256": InputsHash("run-1", inputs),
	}}
	for _, e := range append([]audit.Event{start}, events...) {
		if _, err := log.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func intent(step, id string, irreversible bool) audit.Event {
	req := map[string]string{"mutation_id": id, "kind": "delete-key", "target": "key " + id}
	if irreversible {
		req["irreversible"] = "true"
	}
	return audit.Event{Phase: audit.PhaseIntent, Step: step, Account: "a1", Action: executors.KeysRevoke, Request: req}
}

func outcome(step, id string, errClass string) audit.Event {
	e := intent(step, id, true)
	e.Phase = audit.PhaseOutcome
	if errClass == "" {
		e.Result = map[string]any{"ok": true}
	} else {
		e.Result = map[string]any{"ok": false, "error": "boom", "error_class": errClass}
	}
	return e
}

func stepInfo(step, action, status string, data any) audit.Event {
	res := map[string]any{"status": status, "summary": step + " " + status}
	if data != nil {
		res["data"] = data
	}
	return audit.Event{Phase: audit.PhaseInfo, Step: step, Account: "a1", Action: action, Result: res}
}

func TestParseResumeClassifiesMutations(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute,
		intent("revoke", "done", true), outcome("revoke", "done", ""),
		intent("revoke", "no-outcome", true),
		intent("revoke", "unknown", true), outcome("revoke", "unknown", "unknown-outcome"),
		intent("revoke", "transient", true), outcome("revoke", "transient", "transient"),
		intent("revoke", "interrupted", true), outcome("revoke", "interrupted", "interrupted"),
		intent("revoke", "rejected", true), outcome("revoke", "rejected", "rejected"),
		intent("revoke", "auth", true), outcome("revoke", "auth", "auth"),
		intent("revoke", "throttled", true), outcome("revoke", "throttled", "rate-limited"),
		// failed, then retried and left without outcome: in doubt
		intent("revoke", "retried", true), outcome("revoke", "retried", "rejected"), intent("revoke", "retried", true),
		// done, then planned again after an earlier resume: still done
		intent("revoke", "again", true), outcome("revoke", "again", ""), intent("revoke", "again", true),
		// the same id in another step is another mutation
		intent("other", "done", false),
	)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatalf("LoadResume: %v", err)
	}
	tests := []struct {
		step, id, want string
	}{
		{"revoke", "done", MutationDone},
		{"revoke", "no-outcome", MutationInDoubt},
		{"revoke", "unknown", MutationInDoubt},
		{"revoke", "transient", MutationInDoubt},
		{"revoke", "interrupted", MutationInDoubt},
		{"revoke", "rejected", MutationFailed},
		{"revoke", "auth", MutationFailed},
		{"revoke", "throttled", MutationFailed},
		{"revoke", "retried", MutationInDoubt},
		{"revoke", "again", MutationDone},
		{"other", "done", MutationInDoubt},
	}
	for _, tt := range tests {
		t.Run(tt.step+"/"+tt.id, func(t *testing.T) {
			m := st.Mutations[MutationKey{Step: tt.step, Account: "a1", ID: tt.id}]
			if m == nil {
				t.Fatalf("mutation %s/%s not found", tt.step, tt.id)
			}
			if m.State != tt.want {
				t.Errorf("state = %q, want %q", m.State, tt.want)
			}
		})
	}
	if got, want := len(st.Mutations), len(tests); got != want {
		t.Errorf("got %d mutations, want %d", got, want)
	}
	if m := st.Mutations[MutationKey{"revoke", "a1", "done"}]; !m.Irreversible || m.OutcomeSeq == 0 {
		t.Errorf("done mutation = %+v, want irreversible with its outcome seq", m)
	}
	if st.RunID != "run-1" || st.PlaybookSHA256 != pb.SHA256 || !slices.Equal(st.Accounts, []string{"a1"}) {
		t.Errorf("start info = %q %q %v, want run-1, the playbook's hash, [a1]", st.RunID, st.PlaybookSHA256, st.Accounts)
	}
	rep, _ := audit.Verify(dir, "")
	if st.Head != rep.Head || st.Seq != int64(rep.Records) {
		t.Errorf("head/seq = %s/%d, want %s/%d", st.Head, st.Seq, rep.Head, rep.Records)
	}
}

func TestParseResumeCompletedSteps(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute,
		stepInfo("snap", executors.SnapshotBalances, "ok", map[string]any{"account": "a1", "balances": []any{}}),
		stepInfo("snap", executors.SnapshotBalances, "ok", nil), // a kept copy written by an earlier resume
		stepInfo("inv", executors.KeysInventory, "failed", nil),
		stepInfo("man", executors.Manual, "pending", nil),
		audit.Event{Phase: audit.PhaseInfo, Step: "snap2", Account: "a1", Result: map[string]any{"retry": 1}},
	)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := st.Completed[StepKey{"snap", "a1"}]
	if !ok || c.Status != executors.StatusOK || len(c.Data) == 0 || c.Seq != 2 {
		t.Errorf("snap completion = %+v, %v; want the first ok record (seq 2) with its data", c, ok)
	}
	for _, step := range []string{"inv", "man", "snap2"} {
		if _, ok := st.Completed[StepKey{step, "a1"}]; ok {
			t.Errorf("step %s counted as completed, want not", step)
		}
	}
}

// TestOpeningListsOnlyKeptSteps: the resumed run's opening record lists as
// kept only the completed steps it does not run again (a read, a manual
// step), not a mutating step that completed before the stop (it runs
// again, and its new result is the one the report must count).
func TestOpeningListsOnlyKeptSteps(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute,
		stepInfo("snap", executors.SnapshotBalances, "ok", nil),
		stepInfo("revoke", executors.KeysRevoke, "changed", nil),
	)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Completed[StepKey{"revoke", "a1"}]; !ok {
		t.Fatal("the completed revoke is not in the resume state: the test tests nothing")
	}
	ev := newResumeRun(st).openingEvent(nil)
	got, _ := ev.Result.(map[string]any)["completed_steps"].([]string)
	if want := []string{"snap/a1"}; !slices.Equal(got, want) {
		t.Errorf("completed_steps %v, want %v (the mutating revoke runs again)", got, want)
	}
}

func TestLoadResumeRefuses(t *testing.T) {
	pb := parseResumePB(t)
	tests := []struct {
		name  string
		setup func(t *testing.T) string
		want  error
	}{
		{"dry-run", func(t *testing.T) string { return trail(t, pb, ModeDryRun) }, ErrNotResumable},
		{"ended", func(t *testing.T) string {
			return trail(t, pb, ModeExecute, audit.Event{Phase: audit.PhaseEnd, Result: map[string]any{"interrupted": false}})
		}, ErrNotResumable},
		{"ended without saying interrupted", func(t *testing.T) string {
			return trail(t, pb, ModeExecute, audit.Event{Phase: audit.PhaseEnd, Result: map[string]any{"counts": map[string]int{}}})
		}, ErrNotResumable},
		{"a torn line after a normal end", func(t *testing.T) string {
			dir := trail(t, pb, ModeExecute, audit.Event{Phase: audit.PhaseEnd, Result: map[string]any{"interrupted": false}})
			appendBytes(t, dir, `{"seq":3,"time":"2026`)
			return dir
		}, audit.ErrTampered},
		{"still being written", func(t *testing.T) string {
			dir := trail(t, pb, ModeExecute, intent("revoke", "k1", true))
			appendBytes(t, dir, `{"seq":3,"time":"2026`) // a write in progress: must not be cut
			// Hold the lock as the writing run's Log does.
			release, err := audit.Lock(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { release() })
			return dir
		}, audit.ErrLocked},
		{"empty", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, audit.FileName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, ErrNotResumable},
		{"only a torn first line", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, audit.FileName), []byte(`{"seq":1,"ti`), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, ErrNotResumable},
		{"edited record", func(t *testing.T) string {
			dir := trail(t, pb, ModeExecute, intent("revoke", "k1", true), outcome("revoke", "k1", ""))
			editTrail(t, dir, `"ok":true`, `"ok":false`)
			return dir
		}, audit.ErrTampered},
		{"edited record and a torn line", func(t *testing.T) string {
			dir := trail(t, pb, ModeExecute, intent("revoke", "k1", true), outcome("revoke", "k1", ""))
			editTrail(t, dir, `"ok":true`, `"ok":false`)
			appendBytes(t, dir, `{"seq":4,"time":"2026`)
			return dir
		}, audit.ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			before, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
			_, err := LoadResume(dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadResume error = %v, want one wrapping %v", err, tt.want)
			}
			after, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
			if string(before) != string(after) {
				t.Errorf("a refused trail was modified")
			}
		})
	}
}

func editTrail(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, audit.FileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("trail has no %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, dir, s string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, audit.FileName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestLoadResumeRepairsATornLastLine(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute, intent("revoke", "k1", true))
	intact, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
	torn := `{"seq":3,"time":"2026-11-21T10:00:00Z","run_id":"run-1","step":"revoke","account":"a1","action":"keys.revoke","phase":"outc`
	appendBytes(t, dir, torn)

	st, err := LoadResume(dir)
	if err != nil {
		t.Fatalf("LoadResume: %v", err)
	}
	r := st.Repaired
	if r == nil {
		t.Fatal("Repaired = nil, want the repair described")
	}
	if r.Offset != int64(len(intact)) || r.Bytes != len(torn) || r.AfterSeq != 2 {
		t.Errorf("repair = %+v, want offset %d, %d bytes, after seq 2", r, len(intact), len(torn))
	}
	saved, err := os.ReadFile(filepath.Join(dir, r.SavedAs))
	if err != nil || string(saved) != torn {
		t.Errorf("saved torn bytes = %q, %v; want %q", saved, err, torn)
	}
	now, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
	if string(now) != string(intact) {
		t.Errorf("trail after repair differs from its intact part")
	}
	if _, err := audit.Verify(dir, ""); err != nil {
		t.Errorf("verify after repair: %v", err)
	}
	// The cut outcome leaves its intent alone: the mutation is in doubt.
	if m := st.Mutations[MutationKey{"revoke", "a1", "k1"}]; m == nil || m.State != MutationInDoubt {
		t.Errorf("k1 = %+v, want in doubt", m)
	}
	// The resumed run records the repair in its opening record.
	log, err := audit.Open(dir, audit.Options{NoSync: true})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer log.Close()
	rr := newResumeRun(st)
	if _, err := log.Append(rr.openingEvent(map[string]any{})); err != nil {
		t.Fatal(err)
	}
	recs, _ := audit.Read(dir)
	var opening map[string]any
	_ = json.Unmarshal(recs[len(recs)-1].Result, &opening)
	if opening["repaired_torn_line"] == nil || opening["resumes_head"] != st.Head {
		t.Errorf("opening record = %v, want the repair and the head it continues", opening)
	}
}

func TestCheckResume(t *testing.T) {
	pb := parseResumePB(t)
	st, err := LoadResume(trail(t, pb, ModeExecute))
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{"leaked_key": "abcdefgh12345678"}
	legacy := *st
	legacy.InputsSHA256 = ""
	tests := []struct {
		name     string
		st       *ResumeState
		sha      string
		accounts []string
		inputs   map[string]string
		want     string // substring of the error; "" for none
	}{
		{"same", st, pb.SHA256, []string{"a1"}, good, ""},
		{"playbook changed", st, strings.Repeat("0", 64), []string{"a1"}, good, "playbook"},
		{"other accounts", st, pb.SHA256, []string{"a1", "a2"}, good, "accounts"},
		{"other input", st, pb.SHA256, []string{"a1"}, map[string]string{"leaked_key": "abcdefgh1234567X"}, "inputs"},
		{"missing input", st, pb.SHA256, []string{"a1"}, map[string]string{}, "inputs"},
		{"legacy trail, same masked input", &legacy, pb.SHA256, []string{"a1"}, good, ""},
		{"legacy trail, other input", &legacy, pb.SHA256, []string{"a1"}, map[string]string{"leaked_key": "zzzzzzzzzzzzzzzz"}, "inputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.st.Check(tt.sha, tt.accounts, tt.inputs)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

// venue is a tiny exchange behind an executor: sub keys that revoke deletes
// (one audited, irreversible mutation each) and a snapshot counter. listed
// keys are what the key list shows: a key deleted a moment ago may still be
// listed (eventual consistency), which is what makes the executor plan a
// mutation that is already done.
type venue struct {
	mu     sync.Mutex
	listed []string
	sends  map[string]int
	snaps  int
}

func (v *venue) Exchange() string { return "stub" }

func (v *venue) Plan(ctx context.Context, req executors.Request) (executors.Result, error) {
	return v.Do(ctx, executors.Request{Action: req.Action, Step: req.Step, Params: req.Params})
}

func (v *venue) Do(ctx context.Context, req executors.Request) (executors.Result, error) {
	v.mu.Lock()
	keys := append([]string(nil), v.listed...)
	if req.Action == executors.SnapshotBalances {
		v.snaps++
	}
	v.mu.Unlock()
	if req.Action != executors.KeysRevoke {
		return executors.Result{Status: executors.StatusOK, Summary: "fresh " + req.Action,
			Data: &executors.Snapshot{Account: "a1", Exchange: "stub"}}, nil
	}
	var changes []executors.Change
	for _, k := range keys {
		m := executors.Mutation{ID: "delete-key:" + k, Kind: "delete-key", Target: "key " + k, Irreversible: true}
		err := req.Mutate(ctx, m, func(context.Context) error {
			v.mu.Lock()
			defer v.mu.Unlock()
			v.sends[k]++
			return nil
		})
		if err != nil {
			return executors.Result{}, err
		}
		changes = append(changes, executors.Change{Kind: m.Kind, Target: m.Target, Irreversible: true, ID: m.ID})
	}
	return executors.Result{Status: executors.StatusChanged, Summary: "deleted", Changes: changes}, nil
}

func TestResumedRunSkipsDoneAndRechecksInDoubt(t *testing.T) {
	pb := parseResumePB(t)
	original := map[string]any{"account": "a1", "exchange": "stub", "taken_at": "2026-11-21T10:00:00Z", "balances": []any{
		map[string]any{"wallet": "spot", "asset": "BTC", "free": "1", "locked": "0", "total": "1"}}}
	dir := trail(t, pb, ModeExecute,
		stepInfo("snap", executors.SnapshotBalances, "ok", original),
		// A was deleted (ok outcome) but the key list still shows it.
		intent("revoke", "delete-key:A", true), outcome("revoke", "delete-key:A", ""),
		// B was sent and deleted, but the crash came before its outcome.
		intent("revoke", "delete-key:B", true),
		// C's intent was written, the crash came before it was sent.
		intent("revoke", "delete-key:C", true),
		// D failed with a definite refusal.
		intent("revoke", "delete-key:D", true), outcome("revoke", "delete-key:D", "rejected"),
	)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(dir, audit.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	v := &venue{listed: []string{"A", "C", "D", "E"}, sends: map[string]int{}}
	rep, err := Run(context.Background(), Options{
		RunID: st.RunID, Playbook: pb, Audit: log, RunDir: dir, Resume: st,
		Inputs:  map[string]string{"leaked_key": "abcdefgh12345678"},
		Targets: []Target{{Ref: playbooks.AccountRef{Name: "a1", Exchange: "stub"}, Exec: v}},
	})
	log.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantSends := map[string]int{"C": 1, "D": 1, "E": 1}
	for _, k := range []string{"A", "B", "C", "D", "E"} {
		if got := v.sends[k]; got != wantSends[k] {
			t.Errorf("key %s sent %d times, want %d", k, got, wantSends[k])
		}
	}
	if v.snaps != 0 {
		t.Errorf("snapshot taken %d times, want 0 (kept from the interrupted run)", v.snaps)
	}
	var snapRes StepResult
	for _, r := range rep.Results {
		if r.Step == "snap" {
			snapRes = r
		}
	}
	if snapRes.Status != executors.StatusOK || !strings.Contains(snapRes.Summary, "kept from the interrupted run") {
		t.Errorf("snap result = %s %q, want ok, kept", snapRes.Status, snapRes.Summary)
	}
	b, err := os.ReadFile(filepath.Join(dir, "snapshot-snap.json"))
	if err != nil || !strings.Contains(string(b), `"asset": "BTC"`) {
		t.Errorf("snapshot-snap.json = %s, %v; want the original snapshot", b, err)
	}

	vrep, err := audit.Verify(dir, rep.AuditHead)
	if err != nil || !vrep.Complete {
		t.Fatalf("verify after resume: %+v, %v; want intact and complete", vrep, err)
	}
	recs, _ := audit.Read(dir)
	resumeNotes := map[string]string{}
	var opening map[string]any
	for _, r := range recs[st.Seq:] {
		var res map[string]any
		_ = json.Unmarshal(r.Result, &res)
		if s, ok := res["resume"].(string); ok {
			if r.Step == "" {
				opening = res
				continue
			}
			resumeNotes[r.Request["mutation_id"]] = s
		}
	}
	if opening == nil || opening["resumes_run"] != "run-1" || opening["resumes_head"] != st.Head {
		t.Errorf("opening record = %v, want one naming run-1 and head %s", opening, st.Head)
	}
	if got, _ := json.Marshal(opening["in_doubt"]); string(got) != `["revoke/a1/delete-key:B","revoke/a1/delete-key:C"]` {
		t.Errorf("opening in_doubt = %s, want B and C", got)
	}
	wantNotes := map[string]string{
		"delete-key:A": "skipped: done in the interrupted run",
		"delete-key:B": "confirmed done by re-check",
		"delete-key:C": "in doubt in the interrupted run",
	}
	for id, want := range wantNotes {
		if !strings.HasPrefix(resumeNotes[id], want) {
			t.Errorf("resume note for %s = %q, want it to start with %q", id, resumeNotes[id], want)
		}
	}
	if n, ok := resumeNotes["delete-key:D"]; ok {
		t.Errorf("resume note for the failed D = %q, want none (it is simply tried again)", n)
	}
	// No mutation has two ok outcomes across the whole trail.
	okOutcomes := map[string]int{}
	for _, r := range recs {
		if r.Phase == audit.PhaseOutcome && strings.Contains(string(r.Result), `"ok":true`) {
			okOutcomes[r.Request["mutation_id"]]++
		}
	}
	for id, n := range okOutcomes {
		if n > 1 {
			t.Errorf("mutation %s has %d ok outcomes, want at most 1", id, n)
		}
	}
}

func TestResumeAndDryRunExcludeEachOther(t *testing.T) {
	pb := parseResumePB(t)
	st, err := LoadResume(trail(t, pb, ModeExecute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{RunID: st.RunID, Playbook: pb, DryRun: true, Resume: st}); err == nil {
		t.Error("Run with DryRun and Resume: got nil error, want a refusal")
	}
}

// interrupt is the end record of a run stopped with Ctrl-C.
func interrupt() audit.Event {
	return audit.Event{Phase: audit.PhaseEnd, Result: map[string]any{"counts": map[string]int{"ok": 1}, "interrupted": true}}
}

func TestResumeAfterAnInterruptedEnd(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute,
		stepInfo("snap", executors.SnapshotBalances, "ok", map[string]any{"account": "a1", "balances": []any{}}),
		intent("revoke", "delete-key:A", true), outcome("revoke", "delete-key:A", ""),
		intent("revoke", "delete-key:B", true), outcome("revoke", "delete-key:B", "interrupted"),
		interrupt(),
	)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatalf("LoadResume of an interrupted run: %v", err)
	}
	if st.InterruptedAt != 7 {
		t.Errorf("InterruptedAt = %d, want 7 (the end record)", st.InterruptedAt)
	}
	if m := st.Mutations[MutationKey{"revoke", "a1", "delete-key:B"}]; m == nil || m.State != MutationInDoubt {
		t.Errorf("B = %+v, want in doubt (interrupted in flight)", m)
	}
	log, err := audit.Open(dir, audit.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	v := &venue{listed: []string{"A", "B"}, sends: map[string]int{}}
	rep, err := Run(context.Background(), Options{
		RunID: st.RunID, Playbook: pb, Audit: log, RunDir: dir, Resume: st,
		Inputs:  map[string]string{"leaked_key": "abcdefgh12345678"},
		Targets: []Target{{Ref: playbooks.AccountRef{Name: "a1", Exchange: "stub"}, Exec: v}},
	})
	log.Close()
	if err != nil {
		t.Fatal(err)
	}
	if v.sends["A"] != 0 || v.sends["B"] != 1 {
		t.Errorf("sends = %v, want A 0 (done), B 1 (in doubt, still listed)", v.sends)
	}
	vrep, err := audit.Verify(dir, rep.AuditHead)
	if err != nil || !vrep.Complete {
		t.Fatalf("verify: %+v, %v; want intact and complete", vrep, err)
	}
	recs, _ := audit.Read(dir)
	if next := recs[st.InterruptedAt]; !audit.IsResumeRecord(next) {
		t.Errorf("record after the interrupted end = %s %s, want the resume record", next.Phase, next.Result)
	}
	var opening map[string]any
	_ = json.Unmarshal(recs[st.InterruptedAt].Result, &opening)
	if got := opening["resumes_interrupted_end_seq"]; got != float64(7) {
		t.Errorf("opening resumes_interrupted_end_seq = %v, want 7", got)
	}
	ends := 0
	for _, r := range recs {
		if r.Phase == audit.PhaseEnd {
			ends++
		}
	}
	if last := recs[len(recs)-1]; ends != 2 || audit.IsInterruptedEnd(last) {
		t.Errorf("%d end records, last interrupted %v; want 2, the last not interrupted", ends, audit.IsInterruptedEnd(last))
	}
	// Finished now: a second resume is refused.
	if _, err := LoadResume(dir); !errors.Is(err, ErrNotResumable) {
		t.Errorf("LoadResume after the resumed run ended: %v, want ErrNotResumable", err)
	}
}

// A crash while the resume record after an interrupted end was being
// written leaves it torn: it is cut like any torn line.
func TestLoadResumeRepairsATornResumeRecord(t *testing.T) {
	pb := parseResumePB(t)
	dir := trail(t, pb, ModeExecute, intent("revoke", "k1", true), interrupt())
	intact, _ := os.ReadFile(filepath.Join(dir, audit.FileName))
	appendBytes(t, dir, `{"seq":4,"time":"2026-11-21T10:00:00Z","run_id":"run-1","phase":"info","result":{"resu`)
	st, err := LoadResume(dir)
	if err != nil {
		t.Fatalf("LoadResume: %v", err)
	}
	if st.Repaired == nil || st.InterruptedAt != 3 {
		t.Errorf("Repaired = %+v, InterruptedAt = %d; want a repair and 3", st.Repaired, st.InterruptedAt)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, audit.FileName)); string(now) != string(intact) {
		t.Errorf("trail after repair differs from its intact part")
	}
}
