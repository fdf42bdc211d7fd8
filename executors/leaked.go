package executors

import "fmt"

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
