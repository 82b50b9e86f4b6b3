package checks

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// perContainer runs fn on every container of o's pod template and collects
// the findings it returns.
func perContainer(o *object.Object, fn func(c object.Container) []check.Finding) []check.Finding {
	var out []check.Finding
	for _, c := range o.Pod.Containers() {
		out = append(out, fn(c)...)
	}
	return out
}

func ref(source, id, title, url string) check.Ref {
	return check.Ref{Source: source, ID: id, Title: title, URL: url}
}

func cis(id, title string) check.Ref {
	return check.Ref{Source: "cis", ID: id, Title: "CIS Kubernetes Benchmark " + id + ": " + title}
}

var (
	nsaNetworkSeparation = check.Ref{Source: "nsa-cisa", ID: "network-separation", Title: "NSA/CISA Kubernetes Hardening Guide: Network separation and hardening", URL: nsaPodSecurity.URL}
	nsaAuthn             = check.Ref{Source: "nsa-cisa", ID: "authentication-authorization", Title: "NSA/CISA Kubernetes Hardening Guide: Authentication and authorization", URL: nsaPodSecurity.URL}
	nsaImages            = check.Ref{Source: "nsa-cisa", ID: "image-scanning", Title: "NSA/CISA Kubernetes Hardening Guide: Container images", URL: nsaPodSecurity.URL}
	nsaResources         = check.Ref{Source: "nsa-cisa", ID: "resource-policies", Title: "NSA/CISA Kubernetes Hardening Guide: Resource policies", URL: nsaPodSecurity.URL}
	nsaSecrets           = check.Ref{Source: "nsa-cisa", ID: "secrets", Title: "NSA/CISA Kubernetes Hardening Guide: Secrets", URL: nsaPodSecurity.URL}
	k8sDocs              = func(title, url string) check.Ref { return check.Ref{Source: "doc", Title: title, URL: url} }
)

// quoteJoin renders names as "a", "b".
func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// kindOf is a container's description for messages.
func kindOf(c object.Container) string {
	switch {
	case c.Init:
		return "init container"
	case c.Ephemeral:
		return "ephemeral container"
	}
	return "container"
}

// longRunning reports whether the pod template belongs to a service rather
// than a run-to-completion job.
func longRunning(o *object.Object) bool {
	switch o.Kind {
	case "Job", "CronJob":
		return false
	case "Pod":
		return o.Pod.Spec.RestartPolicy != corev1.RestartPolicyNever && o.Pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }
