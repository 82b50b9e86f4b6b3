package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// capAll reports containers that add ALL.
func capAll() check.Check {
	return capabilityCheck("cap-all", "ALL", check.Critical,
		"All capabilities added",
		"Adding ALL grants every Linux capability: the container is privileged in all but name and can load kernel modules, mount filesystems and reach the host.")
}
