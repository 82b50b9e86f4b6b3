// Package checks is Rampart's catalog: one file per check, each with its
// fixtures in testdata/<check-id>/. Builtin is the one explicit list.
package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// Builtin returns every built-in check, sorted by ID.
func Builtin() []check.Check {
	return []check.Check{
		pssAllowPrivilegeEscalation(),
		pssAppArmor(),
		pssCapabilitiesBaseline(),
		pssCapabilitiesRestricted(),
		pssHostNamespaces(),
		pssHostPathVolumes(),
		pssHostPorts(),
		pssHostProbesLifecycle(),
		pssPrivileged(),
		pssProcMount(),
		pssProcMountRestricted(),
		pssRestrictedVolumes(),
		pssRunAsNonRoot(),
		pssRunAsUser(),
		pssSeccompBaseline(),
		pssSeccompRestricted(),
		pssSELinux(),
		pssSysctls(),
		pssWindowsHostProcess(),
		schemaCheck(),
	}
}

// Registry returns the validated built-in catalog.
func Registry() (*check.Registry, error) {
	return check.NewRegistry(Builtin())
}
