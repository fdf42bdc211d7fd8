// Package audit writes and verifies panicbutton's tamper-evident audit trail.
//
// Each run has a directory (runs/<run-id>/) holding audit.jsonl: append-only
// JSON lines, one record per line, written with a single write call and
// fsynced: before Append returns for the records a crash must not lose
// (start, intent, end), moments later for the others (see Append). The
// package imports no other project package.
//
// # Records
//
// A record is a JSON object whose members appear in this order:
//
//	seq, time, run_id, step, account, action, phase, request, result, prev_hash, hash
//
// step, account, action, request and result are omitted when empty. seq counts
// 1, 2, 3, … without gaps; time is RFC 3339 with nanoseconds in UTC; run_id is
// the same in every record; phase is one of start, intent, outcome, info, end.
// The first record has phase start (it pins the tool version, the playbook name
// and SHA-256, the mode, the account names and the redacted inputs; see
// StartInfo), and the last record of a finished run has phase end. A log whose
// last record is not end belongs to a run that did not finish (it crashed or is
// still running): it is incomplete, which is not in itself evidence of
// tampering. A log is complete when its last record has phase end.
//
// # Interrupted and resumed runs
//
// A run that crashed (no end record) can be resumed: the resumed run appends
// to the same log, opening with a resume record. A run stopped by the
// operator (Ctrl-C) writes an end record that says so, and can be resumed
// too. The exact rules:
//
//   - An end record is interrupted when its result is a JSON object whose
//     member "interrupted" is the literal true (see IsInterruptedEnd).
//   - A resume record has phase info, no step, account or action, and a
//     result that is a JSON object whose member "resume" is the string
//     "resumed" (ResumeMarker; see IsResumeRecord). It may follow any record
//     but an end record that is not interrupted.
//   - Nothing follows an end record that is not interrupted.
//   - The record after an interrupted end record, if any, is a resume record.
//
// So a log may hold several end records, but only when each one before the
// last says interrupted and is immediately followed by a resume record.
// Open re-opens an incomplete log, or one whose last record is an
// interrupted end, and then Append accepts only a resume record next.
//
// # Locking
//
// Create and Open take an exclusive, non-blocking advisory lock (flock(2))
// on audit.jsonl, held until Close, so that a resume cannot append to a trail
// another process is still writing; Lock takes the same lock for readers
// that must not race a writer. The kernel releases the lock when the process
// dies, so a killed run can be resumed at once. The lock is advisory: it
// stops other panicbutton processes, not other programs. On systems without
// flock(2) (Windows among them) there is no lock.
//
// # Hash chain
//
// Hashes are lower-case hex SHA-256 (64 characters). Every line on disk is
// exactly
//
//	BODY[:len(BODY)-1] + `,"hash":"` + HASH + `"}` + "\n"
//
// where BODY is a JSON object (starting with '{' and ending with '}') holding
// every member but hash, and
//
//	HASH = hex(sha256(PREV_HASH + "\n" + BODY))
//
// PREV_HASH is the prev_hash member of the same record: 64 '0' characters for
// seq 1, the hash of record seq-1 otherwise. The hash is computed over the
// exact bytes on disk, never over re-encoded JSON, so an independent verifier
// needs no JSON canonicalisation:
//
//  1. split the file on "\n"; every line, the last included, must end with "\n";
//  2. each line must end with `,"hash":"` + 64 hex digits + `"}`; cut that
//     suffix and append "}" to get BODY;
//  3. parse the line as JSON; its hash member must equal the suffix's digits,
//     its seq must equal the line number (1-based), its prev_hash must equal
//     the previous line's hash (64 zeros for line 1), its run_id must equal
//     line 1's;
//  4. recompute HASH from prev_hash and BODY and compare.
//
// The hash of the last record is the head. A chain detects any edit, insertion,
// deletion or reordering of records that is not followed by recomputing every
// later hash; someone who can rewrite the file can recompute them, and only a
// head kept elsewhere (the CLI prints it at the end of every run) catches that,
// and a truncation of whole records. Verify therefore takes the expected head.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// FileName is the name of the audit log inside a run directory.
const FileName = "audit.jsonl"

// GenesisHash is the prev_hash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Phases of a record.
const (
	PhaseStart   = "start"   // first record: tool version, playbook, mode, accounts, inputs
	PhaseIntent  = "intent"  // before every mutation
	PhaseOutcome = "outcome" // after every mutation
	PhaseInfo    = "info"    // anything else: step results, manual steps, degraded mode
	PhaseEnd     = "end"     // last record: the run's summary
)

func validPhase(p string) bool {
	switch p {
	case PhaseStart, PhaseIntent, PhaseOutcome, PhaseInfo, PhaseEnd:
		return true
	}
	return false
}

// Record is one line of the audit log.
type Record struct {
	Seq      int64             `json:"seq"`
	Time     time.Time         `json:"time"`
	RunID    string            `json:"run_id"`
	Step     string            `json:"step,omitempty"`
	Account  string            `json:"account,omitempty"`
	Action   string            `json:"action,omitempty"`
	Phase    string            `json:"phase"`
	Request  map[string]string `json:"request,omitempty"`
	Result   json.RawMessage   `json:"result,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

// body is Record without its hash: the bytes the hash covers. Its members
// must stay in the order of Record's.
type body struct {
	Seq      int64             `json:"seq"`
	Time     time.Time         `json:"time"`
	RunID    string            `json:"run_id"`
	Step     string            `json:"step,omitempty"`
	Account  string            `json:"account,omitempty"`
	Action   string            `json:"action,omitempty"`
	Phase    string            `json:"phase"`
	Request  map[string]string `json:"request,omitempty"`
	Result   json.RawMessage   `json:"result,omitempty"`
	PrevHash string            `json:"prev_hash"`
}

// Event is what a caller records; the Log fills in seq, time, run_id and the
// hashes. Request must already be redacted: it is written as given. Result is
// marshalled with encoding/json (a json.RawMessage is written as is, compacted).
type Event struct {
	Step, Account, Action, Phase string
	Request                      map[string]string
	Result                       any
}

// StartInfo is the conventional Result of the start record.
type StartInfo struct {
	Version        string            `json:"tool_version"`
	Playbook       string            `json:"playbook"`
	PlaybookSHA256 string            `json:"playbook_sha256"`
	Mode           string            `json:"mode"` // "dry-run" or "execute"
	Accounts       []string          `json:"accounts"`
	Inputs         map[string]string `json:"inputs,omitempty"` // secrets redacted
	Summary        string            `json:"summary,omitempty"`
}

// Options tune a Log.
type Options struct {
	// Now is the clock (default time.Now); times are written in UTC.
	Now func() time.Time
	// NoSync skips the fsync after each record. For tests only.
	NoSync bool
}

// Errors returned by Append, Open and Create.
var (
	ErrClosed   = errors.New("audit log is closed")
	ErrEnded    = errors.New("audit log already has an end record")
	ErrTampered = errors.New("audit log is not intact")
	// ErrLocked: another process (or another open Log) holds the trail's
	// lock: a run is still writing it.
	ErrLocked = errors.New("audit trail is locked")
	// ErrResumeExpected: the log was re-opened after an interrupted end
	// record, and the next record must be a resume record.
	ErrResumeExpected = errors.New("the record after an interrupted end must be a resume record")
)

// errWouldBlock is what lockFile returns when the lock is held elsewhere.
var errWouldBlock = errors.New("lock held elsewhere")

// ResumeMarker is the value of the "resume" member of a resume record's
// result (see the package comment).
const ResumeMarker = "resumed"

// file is what a Log writes to; an *os.File in production.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

// Log appends records to one run's audit.jsonl. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	path   string
	runID  string
	f      file
	now    func() time.Time
	noSync bool
	seq    int64
	head   string // hash of the last record; "" before the first
	ended  bool
	// needResume: re-opened after an interrupted end record, so the next
	// record must be a resume record.
	needResume bool
	closed     bool
	err        error // first write/sync failure; sticky

	// Group commit: records are written in seq order under mu; then each
	// Append waits until an fsync that began after its write has
	// completed. Concurrent appenders share one fsync instead of
	// queueing one each behind mu, while every Append still returns only
	// once its own record is durable.
	syncMu sync.Mutex
	// syncDone is closed when the fsync in progress ends; nil when none
	// is (guarded by syncMu). Waiters wait on it without holding syncMu,
	// so a wave of intents is released at once by one close rather than
	// handed syncMu one after another (a convoy that, with every core
	// busy, cost each wave of cancels tens of milliseconds).
	syncDone chan struct{}
	synced   atomic.Int64 // every record up to this seq is durable (written only by the fsync in progress)
	// durableSeq/durableHead: the same position, guarded by mu, so that a
	// failure path holding mu can roll back to it (syncMu and mu are never
	// held together).
	durableSeq  int64
	durableHead string

	// The flusher fsyncs the records whose Append does not wait (see
	// Append): kicked through flush, started by the first such record,
	// stopped by Close (stop), which waits for flushDone.
	flush     chan struct{}
	stop      chan struct{}
	flushDone chan struct{}
	flushOnce sync.Once
	stopOnce  sync.Once
}

// Create creates dir (mode 0700, parents included) if needed and a new
// audit.jsonl in it (mode 0600); it fails if the file already exists. The
// Log holds the trail's lock until Close (see the package comment).
func Create(dir, runID string, opts Options) (*Log, error) {
	if runID == "" {
		return nil, errors.New("create audit log: empty run id")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit log: %w", err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create audit log: %w", err)
	}
	if err := lock(f, dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("create audit log: %w", err)
	}
	if !opts.NoSync {
		// Make the new directory entry durable too.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("create audit log: %w", err)
		}
	}
	return newLog(path, runID, f, opts), nil
}

func newLog(path, runID string, f file, opts Options) *Log {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	l := &Log{path: path, runID: runID, f: f, now: now, noSync: opts.NoSync,
		flush: make(chan struct{}, 1), stop: make(chan struct{}), flushDone: make(chan struct{})}
	return l
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// lock takes the trail's lock on f (see lockFile), naming the run
// directory dir in the error.
func lock(f *os.File, dir string) error {
	switch err := lockFile(f); {
	case err == nil:
		return nil
	case errors.Is(err, errWouldBlock):
		return fmt.Errorf("another panicbutton process is using run directory %s (it is still writing the audit trail; wait for it to finish or stop it first): %w", dir, ErrLocked)
	default:
		return fmt.Errorf("lock the audit trail in %s: %w", dir, err)
	}
}

// Lock takes the lock of the trail at path (a run directory or an
// audit.jsonl) without opening it for appending, for a reader that must not
// race a writer (resuming a run reads, and may repair, the trail before it
// calls Open). It fails with an error wrapping ErrLocked while a Log or
// another Lock holds it. release drops the lock; call it before Open.
func Lock(path string) (release func() error, err error) {
	p := logPath(path)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lock audit log: %w", err)
	}
	if err := lock(f, filepath.Dir(p)); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock audit log: %w", err)
	}
	return f.Close, nil
}

// Open re-opens an existing run's log for appending (to resume a run). dir is
// a run directory or an audit.jsonl. It takes the trail's lock (failing with
// ErrLocked while another process writes it), then verifies the chain; a
// log that is not intact or is empty is refused, and so is one that ended,
// unless its last record is an interrupted end (IsInterruptedEnd): then the
// next Append must be a resume record (IsResumeRecord). Appends continue its
// seq and chain.
func Open(dir string, opts Options) (*Log, error) {
	path := logPath(dir)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	fail := func(err error) (*Log, error) {
		f.Close()
		return nil, err
	}
	// Lock before reading, so that what is verified is what is continued.
	if err := lock(f, filepath.Dir(path)); err != nil {
		return fail(fmt.Errorf("open audit log: %w", err))
	}
	recs, rep, err := verify(path, "")
	if err != nil {
		return fail(fmt.Errorf("open audit log: %w", err))
	}
	if rep.Records == 0 {
		return fail(fmt.Errorf("open audit log %s: no records", path))
	}
	last := recs[len(recs)-1]
	interrupted := rep.Complete && IsInterruptedEnd(last)
	if rep.Complete && !interrupted {
		return fail(fmt.Errorf("open audit log %s: %w", path, ErrEnded))
	}
	l := newLog(path, last.RunID, f, opts)
	l.seq = last.Seq
	l.head = last.Hash
	l.synced.Store(last.Seq) // verified from disk
	l.durableSeq, l.durableHead = last.Seq, last.Hash
	l.needResume = interrupted
	return l, nil
}

// IsInterruptedEnd reports whether r is an end record whose result is a
// JSON object with the member "interrupted" set to the literal true.
func IsInterruptedEnd(r Record) bool {
	return r.Phase == PhaseEnd && member(r.Result, "interrupted") == "true"
}

// IsResumeRecord reports whether r is a resume record: phase info, no step,
// account or action, and a result object whose member "resume" is the
// string ResumeMarker.
func IsResumeRecord(r Record) bool {
	return r.Phase == PhaseInfo && r.Step == "" && r.Account == "" && r.Action == "" &&
		member(r.Result, "resume") == `"`+ResumeMarker+`"`
}

// member returns the raw JSON of the member name of the object in raw (""
// when raw is not an object or has no such member). Names match exactly,
// unlike encoding/json's struct decoding.
func member(raw json.RawMessage, name string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	return string(bytes.TrimSpace(obj[name]))
}

// Append writes one record and, unless Options.NoSync, has it fsynced
// (concurrent records share one fsync: group commit). A start, intent or
// end record is returned only once it is durable: nothing is sent before
// the trail shows it may be, and the end's head hash names a durable
// trail. Any other record (an outcome, a step's result) is fsynced by the
// flusher, which starts at once, or by an intent's fsync if that comes
// first (an fsync covers every record written before it), and at the
// latest by Close; Append does not wait for it. A crash that loses such a
// record is the crash resume already handles just before it was written:
// an intent without its outcome is re-checked before anything is
// repeated. Waiting for those too made every wave of parallel cancels
// queue behind the fsyncs of the previous wave's outcomes.
//
// The first record must have phase start; nothing may follow an
// end record written through this Log; and in a Log re-opened after an
// interrupted end record, the first record appended must be a resume record
// (else ErrResumeExpected). After the first write or sync failure the Log is failed:
// that Append and every later one return the same error, so callers that
// must not act unaudited fail closed. A Result that cannot be marshalled, or
// a bad phase, is reported without writing and without failing the Log.
func (l *Log) Append(e Event) (Record, error) {
	if !validPhase(e.Phase) {
		return Record{}, fmt.Errorf("append audit record: invalid phase %q", e.Phase)
	}
	var result json.RawMessage
	if e.Result != nil {
		b, err := json.Marshal(e.Result)
		if err != nil {
			return Record{}, fmt.Errorf("append audit record: marshal result of step %q: %w", e.Step, err)
		}
		if string(b) != "null" {
			result = b
		}
	}

	rec, err := l.write(e, result)
	if err != nil || l.noSync {
		return rec, err
	}
	if e.Phase == PhaseOutcome || e.Phase == PhaseInfo {
		l.flushOnce.Do(func() { go l.flusher() })
		select {
		case l.flush <- struct{}{}:
		default: // a kick is pending already; its fsync covers this record
		}
		return rec, nil
	}
	if err := l.waitDurable(rec.Seq); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// write appends the record's line to the file (not yet fsynced) and
// advances the chain.
func (l *Log) write(e Event, result json.RawMessage) (Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.err != nil:
		return Record{}, l.err
	case l.closed:
		return Record{}, ErrClosed
	case l.ended:
		return Record{}, ErrEnded
	case l.seq == 0 && e.Phase != PhaseStart:
		return Record{}, fmt.Errorf("append audit record: first record must have phase %q, not %q", PhaseStart, e.Phase)
	case l.seq > 0 && e.Phase == PhaseStart:
		return Record{}, fmt.Errorf("append audit record: phase %q after the first record", PhaseStart)
	case l.needResume && !IsResumeRecord(Record{Phase: e.Phase, Step: e.Step, Account: e.Account, Action: e.Action, Result: result}):
		return Record{}, fmt.Errorf("append audit record seq %d (phase %q, step %q): %w", l.seq+1, e.Phase, e.Step, ErrResumeExpected)
	}

	prev := l.head
	if prev == "" {
		prev = GenesisHash
	}
	b := body{
		Seq:      l.seq + 1,
		Time:     l.now().UTC(),
		RunID:    l.runID,
		Step:     e.Step,
		Account:  e.Account,
		Action:   e.Action,
		Phase:    e.Phase,
		Request:  e.Request,
		Result:   result,
		PrevHash: prev,
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return Record{}, fmt.Errorf("append audit record seq %d: %w", b.Seq, err)
	}
	hash := chainHash(prev, raw)
	line := make([]byte, 0, len(raw)+len(hashPrefix)+len(hash)+3)
	line = append(line, raw[:len(raw)-1]...)
	line = append(line, hashPrefix...)
	line = append(line, hash...)
	line = append(line, "\"}\n"...)

	if _, err := l.f.Write(line); err != nil {
		l.err = fmt.Errorf("audit log failed: write seq %d to %s: %w", b.Seq, l.path, err)
		l.rollBackToDurable()
		return Record{}, l.err
	}
	l.seq = b.Seq
	l.head = hash
	l.ended = e.Phase == PhaseEnd
	l.needResume = false
	return Record{
		Seq: b.Seq, Time: b.Time, RunID: b.RunID, Step: b.Step, Account: b.Account,
		Action: b.Action, Phase: b.Phase, Request: b.Request, Result: b.Result,
		PrevHash: b.PrevHash, Hash: hash,
	}, nil
}

// rollBackToDurable makes Head and Seq name the last record known durable
// after a failure: records written but not yet fsynced were confirmed to
// nobody. Callers hold mu. With NoSync every written record counts as done.
func (l *Log) rollBackToDurable() {
	if l.noSync {
		return
	}
	l.seq, l.head = l.durableSeq, l.durableHead
}

// flusher fsyncs every record written when it is kicked, until Close
// stops it. A failed fsync fails the Log (waitDurable), so the next
// record that must be durable fails.
func (l *Log) flusher() {
	defer close(l.flushDone)
	for {
		select {
		case <-l.stop:
			return
		case <-l.flush:
			l.mu.Lock()
			seq, failed := l.seq, l.err
			l.mu.Unlock()
			if failed == nil {
				_ = l.waitDurable(seq)
			}
		}
	}
}

// waitDurable returns once an fsync covering record seq has completed
// (starting one if none is running), or with the log's failure. A failed
// fsync fails the log for good, like a failed write.
func (l *Log) waitDurable(seq int64) error {
	for l.synced.Load() < seq {
		l.syncMu.Lock()
		if l.synced.Load() >= seq {
			l.syncMu.Unlock()
			return nil
		}
		if done := l.syncDone; done != nil {
			// An fsync is running; it may not cover seq (written after it
			// began): look again once it ends.
			l.syncMu.Unlock()
			<-done
			continue
		}
		done := make(chan struct{})
		l.syncDone = done
		l.syncMu.Unlock()
		err := l.syncWritten()
		l.syncMu.Lock()
		l.syncDone = nil
		close(done)
		l.syncMu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// syncWritten fsyncs every record written so far and records them as
// durable; its caller is the one fsync in progress (syncDone). A failure,
// earlier or of this fsync, is returned and fails the log.
func (l *Log) syncWritten() error {
	l.mu.Lock()
	target, targetHead, failed := l.seq, l.head, l.err // every record up to target is written
	l.mu.Unlock()
	if failed != nil {
		return failed
	}
	if err := l.f.Sync(); err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err == nil {
			l.err = fmt.Errorf("audit log failed: sync up to seq %d of %s: %w", target, l.path, err)
			l.rollBackToDurable()
		}
		return l.err
	}
	l.mu.Lock()
	if target > l.durableSeq {
		l.durableSeq, l.durableHead = target, targetHead
	}
	l.mu.Unlock()
	if target > l.synced.Load() {
		l.synced.Store(target) // only the one fsync in progress writes it
	}
	return nil
}

// Head returns the hash of the last record written ("" before the first).
func (l *Log) Head() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Seq returns the seq of the last record written (0 before the first).
func (l *Log) Seq() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// RunID returns the run id written in every record.
func (l *Log) RunID() string { return l.runID }

// Path returns the path of the audit.jsonl file.
func (l *Log) Path() string { return l.path }

// Err returns the failure that made every Append fail, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file, which releases the trail's lock; later Appends
// return ErrClosed. Closing twice is a no-op.
func (l *Log) Close() error {
	// Stop the flusher (never started: it can no longer start), then make
	// every written record durable (an fsync in progress, or one for
	// records whose Append has not started its own yet or did not wait).
	l.stopOnce.Do(func() { close(l.stop) })
	l.flushOnce.Do(func() { close(l.flushDone) })
	<-l.flushDone
	if !l.noSync {
		l.mu.Lock()
		seq, failed := l.seq, l.err
		l.mu.Unlock()
		if failed == nil {
			_ = l.waitDurable(seq) // a failure is recorded in l.err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close audit log %s: %w", l.path, err)
	}
	return nil
}

const hashPrefix = `,"hash":"`

// chainHash is hex(sha256(prev + "\n" + body)).
func chainHash(prev string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// logPath accepts a run directory or the audit.jsonl itself.
func logPath(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return filepath.Join(path, FileName)
	}
	return path
}

// Read parses every record of a log without verifying the chain. path is a
// run directory or an audit.jsonl. A line that is not a record is an error.
func Read(path string) ([]Record, error) {
	path = logPath(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	var recs []Record
	for i, line := range splitLines(data) {
		var r Record
		if err := json.Unmarshal(line.text, &r); err != nil {
			return recs, fmt.Errorf("read audit log %s: line %d: %w", path, i+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

type line struct {
	text    []byte
	newline bool // the line ended with "\n"
}

// splitLines splits data into lines; a final line without "\n" is kept and
// marked.
func splitLines(data []byte) []line {
	var out []line
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, line{text: data})
			break
		}
		out = append(out, line{text: data[:i], newline: true})
		data = data[i+1:]
	}
	return out
}

// Report is the result of Verify.
type Report struct {
	// Records is the number of records verified: all of them when intact,
	// those before FirstBad otherwise.
	Records int `json:"records"`
	// Head is the hash of the last verified record.
	Head string `json:"head"`
	// Complete reports that the last record has phase end (an interrupted
	// end included: see the package comment).
	Complete bool `json:"complete"`
	// FirstBad is the seq (line number) of the first bad record, 0 if intact.
	// A log cut short of wantHead reports the seq after its last record.
	FirstBad int64 `json:"first_bad,omitempty"`
	// Problem describes what is wrong at FirstBad.
	Problem string `json:"problem,omitempty"`
}

// Intact reports whether the chain verified.
func (r Report) Intact() bool { return r.FirstBad == 0 }

// Verify checks the log at path (a run directory or an audit.jsonl) against
// the chain rules in the package comment and, when wantHead is not empty,
// that its last record's hash is wantHead. It returns a non-nil error iff the
// log is not intact or cannot be read; a broken chain wraps ErrTampered and
// the Report names the first bad seq. A log without an end record is
// reported with Complete false, which alone is not an error.
func Verify(path string, wantHead string) (Report, error) {
	_, rep, err := verify(logPath(path), wantHead)
	return rep, err
}

func verify(path, wantHead string) ([]Record, Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	recs, rep := verifyBytes(data, wantHead)
	if !rep.Intact() {
		return recs, rep, fmt.Errorf("%w: %s: seq %d: %s", ErrTampered, path, rep.FirstBad, rep.Problem)
	}
	return recs, rep, nil
}

func isHex64(s []byte) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// verifyBytes verifies a whole log held in memory and returns the records
// verified so far.
func verifyBytes(data []byte, wantHead string) ([]Record, Report) {
	var (
		rep   Report
		recs  []Record
		prev  = GenesisHash
		runID string
		ended bool // the previous record is an end record
		// interrupted: that end record is interrupted (IsInterruptedEnd).
		interrupted bool
	)
	bad := func(seq int64, format string, args ...any) ([]Record, Report) {
		rep.FirstBad = seq
		rep.Problem = fmt.Sprintf(format, args...)
		return recs, rep
	}
	lines := splitLines(data)
	if len(lines) == 0 {
		return bad(1, "empty log: no records")
	}
	for i, ln := range lines {
		want := int64(i + 1)
		text := ln.text
		if !ln.newline {
			return bad(want, "partial last line (interrupted write or truncation): %d bytes without a newline", len(text))
		}
		const suffixLen = len(hashPrefix) + 64 + 2 // ,"hash":"<64>"}
		if len(text) < suffixLen+1 || text[0] != '{' ||
			!bytes.HasSuffix(text, []byte(`"}`)) ||
			!bytes.Equal(text[len(text)-suffixLen:len(text)-suffixLen+len(hashPrefix)], []byte(hashPrefix)) ||
			!isHex64(text[len(text)-66:len(text)-2]) {
			return bad(want, "not an audit record (no trailing hash member)")
		}
		lineHash := string(text[len(text)-66 : len(text)-2])
		var r Record
		if err := json.Unmarshal(text, &r); err != nil {
			return bad(want, "not valid JSON: %v", err)
		}
		if r.Hash != lineHash {
			return bad(want, "hash member %s does not match the line's trailing hash %s", short(r.Hash), short(lineHash))
		}
		b := make([]byte, 0, len(text)-suffixLen+1)
		b = append(b, text[:len(text)-suffixLen]...)
		b = append(b, '}')
		if got := chainHash(r.PrevHash, b); got != r.Hash {
			return bad(want, "hash mismatch: the record was edited (hash %s, content hashes to %s)", short(r.Hash), short(got))
		}
		switch {
		case r.Seq < want:
			return bad(want, "found seq %d where seq %d was expected (record duplicated, inserted or reordered)", r.Seq, want)
		case r.Seq > want:
			return bad(want, "found seq %d where seq %d was expected (record deleted or reordered)", r.Seq, want)
		}
		if r.PrevHash != prev {
			if want == 1 {
				return bad(want, "first record's prev_hash is %s, want %s", short(r.PrevHash), short(GenesisHash))
			}
			return bad(want, "prev_hash %s does not match the hash %s of seq %d (record inserted, deleted or replaced)", short(r.PrevHash), short(prev), want-1)
		}
		if want == 1 {
			runID = r.RunID
			if r.Phase != PhaseStart {
				return bad(want, "first record has phase %q, want %q", r.Phase, PhaseStart)
			}
		} else {
			if r.RunID != runID {
				return bad(want, "run_id changed from %q to %q", runID, r.RunID)
			}
			if r.Phase == PhaseStart {
				return bad(want, "phase %q after the first record", PhaseStart)
			}
		}
		if !validPhase(r.Phase) {
			return bad(want, "unknown phase %q", r.Phase)
		}
		if ended && !interrupted {
			return bad(want, "record after the end record")
		}
		if ended && !IsResumeRecord(r) {
			return bad(want, "the record after the interrupted end record (seq %d) is not a resume record", want-1)
		}
		ended = r.Phase == PhaseEnd
		interrupted = ended && IsInterruptedEnd(r)
		recs = append(recs, r)
		rep.Records = len(recs)
		rep.Head = r.Hash
		prev = r.Hash
	}
	rep.Complete = ended
	if wantHead != "" && wantHead != rep.Head {
		for _, r := range recs {
			if r.Hash == wantHead {
				recs = recs[:r.Seq]
				rep.Records, rep.Head, rep.Complete = int(r.Seq), r.Hash, r.Phase == PhaseEnd
				return bad(r.Seq+1, "log continues after the expected head (seq %d): records appended later", r.Seq)
			}
		}
		return bad(int64(len(recs))+1, "head mismatch: last record seq %d has hash %s, want %s (log truncated or rewritten)", len(recs), rep.Head, wantHead)
	}
	return recs, rep
}
