package binance

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
// the key: the account's own key becomes the manual step (Binance cannot
// delete it by API); a key neither own nor listed under a sub-account is a
// high finding (issue 10: a leaked key that no inventory lists does not
// stop containment, but it must be said).
func (e *Executor) checkKeyIDs(res *executors.Result, p executors.Params, keys []subKey, master bool) {
	own := e.acct.APIKey.Reveal()
	for _, id := range p.Strings("key_ids") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if id == own || id == mask(own) {
			if len(res.Manual) == 0 {
				res.Manual = append(res.Manual, e.masterManual(master))
			}
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + mask(own),
				Message: "the key named in key_ids is this account's own key: Binance has no API to delete it, so it is a manual step"})
			continue
		}
		found := false
		for _, k := range keys {
			if k.row.APIKey == id || mask(k.row.APIKey) == id {
				found = true
				break
			}
		}
		if !found && e.knownSubKey(id) {
			// Listed under a sub-account earlier in this process and gone
			// now: deleted (by this run, e.g. its first step).
			res.Findings = append(res.Findings, executors.Finding{Severity: "info", Subject: "key " + maskID(id),
				Message: "no longer listed: it was a sub-account key of this account and is deleted"})
			continue
		}
		if !found {
			res.Findings = append(res.Findings, executors.KeyNotFoundFinding(maskID(id), e.acct.Name))
		}
	}
}

// midRunKeys returns the sub keys the first listing of this process did
// not show (created while the run goes on), except the temporary keys the
// process minted itself.
func (e *Executor) midRunKeys(keys []subKey) []subKey {
	m := e.keyMemory()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []subKey
	for _, k := range keys {
		if m.baseline != nil && !m.baseline[k.row.APIKey] && !m.temp[k.row.APIKey] {
			out = append(out, k)
		}
	}
	return out
}

// unionKeys adds the keys of extra not in keys.
func unionKeys(keys, extra []subKey) []subKey {
	have := map[string]bool{}
	for _, k := range keys {
		have[k.row.APIKey] = true
	}
	for _, k := range extra {
		if !have[k.row.APIKey] {
			keys = append(keys, k)
			have[k.row.APIKey] = true
		}
	}
	return keys
}
