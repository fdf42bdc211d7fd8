package executors

import (
	"context"
	"fmt"
)

// FindingKeyNotFound is the Code of the finding keys.revoke returns for a
// key named in key_ids that the account does not hold (neither its own key
// nor a key of its sub-accounts). The runner turns the findings of every
// account into one verdict: the key was found elsewhere, or it is on no
// configured account.
const FindingKeyNotFound = "key-not-found"

// KeyNotFoundFinding is keys.revoke's finding for a key_ids entry the
// account does not hold. masked is the key's masked id.
func KeyNotFoundFinding(masked, account string) Finding {
	return Finding{Severity: "high", Code: FindingKeyNotFound, Subject: "key " + masked,
		Message: fmt.Sprintf("key %s not found on account %s (neither its own key nor a key of its sub-accounts): "+
			"it may be the master key of another account or belong to an account not in the accounts file", masked, account),
		Fix: KeyNotFoundFix(masked)}
}

// KeyNotFoundFix is the instruction for a leaked key no account holds.
func KeyNotFoundFix(masked string) string {
	return fmt.Sprintf("Find key %s in the API Management page of each of your exchange accounts (and their sub-accounts) and delete it there; "+
		"if it belongs to an account that is not in the accounts file, add that account and run the playbook again. Containment of the configured accounts went on.", masked)
}

// TempKey names a temporary sub-account key a run minted (see
// orders.cancel_all scope sub_accounts), as the audit trail records it.
type TempKey struct {
	Sub    string // sub-account (Binance e-mail, KuCoin subName)
	Label  string // the key's label (Binance apiName, KuCoin remark)
	Masked string // masked key id, when the creation's outcome was recorded
}

// TempKeyCleaner is implemented by executors that mint temporary keys. A
// resumed run calls it first, with every temporary key the interrupted
// run's trail shows created (or maybe created) and not deleted: it finds
// each by its label, deletes it (mutation delete-temp-key through
// req.Hooks), and probes it until the venue rejects it. The result's
// Remaining names, as "live-key", every key it could not prove gone.
type TempKeyCleaner interface {
	DeleteTempKeys(ctx context.Context, req Request, keys []TempKey) (Result, error)
}

// NoteKeysNotFound appends to a keys.revoke summary which key_ids entries
// the account does not hold, so the live progress says it at once.
func NoteKeysNotFound(res *Result) {
	for _, f := range res.Findings {
		if f.Code == FindingKeyNotFound {
			res.Summary += "; " + f.Subject + " NOT FOUND on this account"
		}
	}
}
