package subacct

import (
	"strings"
	"time"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/secret"
)

// MaskID masks a key id given in key_ids, which may already be masked.
func MaskID(id string) string {
	if strings.Contains(id, "…") || strings.Contains(id, "...") {
		return id
	}
	return secret.Mask(id)
}

// KeyIDCheck is what CheckKeyIDs needs to know of one account.
type KeyIDCheck struct {
	Venue   string                      // "Binance", "KuCoin": the venue that cannot delete the account's own key
	Account string                      // the account's name
	Own     string                      // the account's own key id
	Manual  func() executors.ManualStep // the manual step that deletes the own key
	Listed  func(id string) bool        // the id (or its masked form) is listed under a sub-account now
	Known   func(id string) bool        // it was listed under a sub-account earlier in this process
}

// CheckKeyIDs reports, for each key_ids entry, whether this account holds
// the key: the account's own key becomes the manual step (the venue cannot
// delete it by API); a key neither own nor listed under a sub-account is a
// high finding (issue 10: a leaked key that no inventory lists does not
// stop containment, but it must be said).
func CheckKeyIDs(res *executors.Result, p executors.Params, c KeyIDCheck) {
	for _, id := range p.Strings("key_ids") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if id == c.Own || id == secret.Mask(c.Own) {
			if len(res.Manual) == 0 {
				res.Manual = append(res.Manual, c.Manual())
			}
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + secret.Mask(c.Own),
				Message: "the key named in key_ids is this account's own key: " + c.Venue + " has no API to delete it, so it is a manual step"})
			continue
		}
		found := c.Listed(id)
		if !found && c.Known(id) {
			// Listed under a sub-account earlier in this process and gone
			// now: deleted (by this run, e.g. its first step).
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + MaskID(id),
				Message: "no longer listed: it was a sub-account key of this account and is deleted"})
			continue
		}
		if !found {
			res.Findings = append(res.Findings, executors.KeyNotFoundFinding(MaskID(id), c.Account))
		}
	}
}

// ListingNote ends the summary of a revocation that started from a
// listing of the sub keys made earlier (at, by the inventory) instead of
// listing them again: a key created since then was not considered.
func ListingNote(at time.Time) string {
	return "; sub keys as listed at " + at.UTC().Format("15:04:05") + " UTC (the inventory's listing): a key created since is left to the next step that deletes keys created mid-run"
}

// MidRunListingNote ends the summary of a look for keys created mid-run
// that took, for some sub-accounts, the listing the revocation before it
// made moments earlier (its confirming re-list) instead of listing them
// once more: the oldest listing it saw was made at at. The executor does
// not know whether the run will hold the line, so the note says what a
// run without a hold leaves too.
func MidRunListingNote(at time.Time) string {
	return "; sub keys as listed since " + at.UTC().Format("15:04:05") + " UTC (sub-accounts the previous revocation had just re-listed were not listed again): a key created after its sub-account's listing is left to the hold's passes, and not looked for if the run does not hold"
}
