// Package runner executes a validated playbook against a set of accounts.
//
// Steps run in order; each step fans out over the target accounts
// concurrently (bounded). "In order" is by dependency (dependencies): reads
// before the first mutation overlap it, and a mutating step follows the
// one before it once that one says its mutations are sent (a freeze, its
// cancels answered: executors.MutationsSender), else once it is done. Every (step, account) gets one Result: its `when`
// is evaluated against the account and the earlier steps' statuses, its
// parameters are rendered, and the action is run with a per-step timeout and
// retries for retryable error classes only (exponential backoff with full
// jitter, honouring a venue's Retry-After). Mutations are audited through
// executor Hooks: an intent record is fsynced before every mutation and an
// outcome record after it; if the intent cannot be written the mutation is
// not sent (fail closed) unless the run was started in degraded mode.
// Manual steps either wait for the operator (Manual handler) or stay
// pending. Cancellation (Ctrl-C) stops cleanly: in-flight work is recorded
// as interrupted and the trail is closed with an end record.
package runner
