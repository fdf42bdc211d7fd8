package kucoin

import (
	"strings"

	"github.com/panicbutton/panicbutton/executors"
)

// maskID masks a key id given in key_ids, which may already be masked.
func maskID(id string) string {
	if strings.Contains(id, "…") || strings.Contains(id, "...") {
		return id
	}
	return mask(id)
}

// checkKeyIDs reports, for each key_ids entry, whether this account holds
// the key: its own key becomes the manual step (KuCoin cannot delete it by
// API); a key neither own nor listed under a sub-account is a high finding
// (issue 10: the run goes on, and says so).
func (x *Executor) checkKeyIDs(res *executors.Result, p executors.Params, sks []subKey) {
	own := x.ownKey()
	for _, id := range p.Strings("key_ids") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if id == own || id == mask(own) {
			if len(res.Manual) == 0 {
				res.Manual = append(res.Manual, x.masterManual())
			}
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + mask(own),
				Message: "the key named in key_ids is this account's own key: KuCoin has no API to delete it, so it is a manual step"})
			continue
		}
		found := false
		for _, k := range sks {
			if k.info.APIKey == id || mask(k.info.APIKey) == id {
				found = true
				break
			}
		}
		if !found && x.knownSubKey(id) {
			// Listed under a sub-account earlier in this process and gone
			// now: deleted (by this run, e.g. its first step).
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + maskID(id),
				Message: "no longer listed: it was a sub-account key of this account and is deleted"})
			continue
		}
		if !found {
			res.Findings = append(res.Findings, executors.KeyNotFoundFinding(maskID(id), x.acct.Name))
		}
	}
}

// midRunKeys returns the sub keys the first listing of this process did
// not show (created while the run goes on), except temporary keys the
// process minted itself.
func (x *Executor) midRunKeys(sks []subKey) []subKey {
	m := x.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []subKey
	for _, k := range sks {
		if m.baseline != nil && !m.baseline[k.info.APIKey] && !m.temp[k.info.APIKey] {
			out = append(out, k)
		}
	}
	return out
}
