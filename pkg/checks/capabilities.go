package checks

import (
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// capabilityCheck reports every container that adds capability name to its
// securityContext.capabilities.add ("CAP_" prefix and case ignored, as the
// runtime does). Each dangerous capability is its own check, so its
// explanation says what that one power allows.
func capabilityCheck(id, name string, sev check.Severity, title, why string) check.Check {
	return check.Check{
		ID:          id,
		Title:       title,
		Severity:    sev,
		Category:    check.CategoryCapabilities,
		Description: why,
		Remediation: "Remove " + name + " from securityContext.capabilities.add, drop ALL, and give the work that needs it to a separate, reviewed component.",
		References: []check.Ref{
			pssReference("capabilities", "Capabilities"),
			cis("5.2.9", "Minimize the admission of containers with capabilities assigned"),
			nsaPodSecurity,
			mitre("T1611"),
			k8sDocs("capabilities(7)", "https://man7.org/linux/man-pages/man7/capabilities.7.html"),
		},
		Scope: podScope,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
				if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
					return nil
				}
				for i, a := range c.SecurityContext.Capabilities.Add {
					if strings.TrimPrefix(strings.ToUpper(string(a)), "CAP_") == name {
						return []check.Finding{check.NewFinding(o, c.Path+".securityContext.capabilities.add["+itoa(i)+"]",
							kindOf(c)+" \""+c.Name+"\" adds capability "+name)}
					}
				}
				return nil
			})
		},
	}
}
