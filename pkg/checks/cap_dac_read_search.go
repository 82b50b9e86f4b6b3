package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capDacReadSearch reports containers that add DAC_READ_SEARCH.
func capDacReadSearch() check.Check {
	return capabilityCheck("cap-dac-read-search", "DAC_READ_SEARCH", check.High,
		"DAC_READ_SEARCH capability added",
		"DAC_READ_SEARCH bypasses file read permissions and enables open_by_handle_at, the call behind the Shocker escape that reads arbitrary host files.")
}
