package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// AuditMix is the share of each kind of request in generated audit logs,
// in per mille, after what a busy cluster's API server logs with a typical
// audit policy (Metadata for most, RequestResponse for workloads and RBAC):
// kubelets and controllers renewing leases and reading and watching, events
// and status updates, and few people changing things.
var AuditMix = []struct {
	Kind     string
	PerMille int
}{
	{"lease-update", 300}, // kubelets, controllers, leader election
	{"get", 180},          // controllers and kubelets reading objects
	{"list-watch", 140},
	{"event-create", 100},
	{"status-patch", 90}, // pods/status, nodes/status
	{"configmap-get", 50},
	{"secret-get", 40}, // service accounts reading their Secrets
	{"forbidden", 30},  // denied requests
	{"pod-create", 25}, // RequestResponse, a pod spec
	{"deployment-apply", 15},
	{"health", 15}, // anonymous /healthz, /readyz
	{"rbac-change", 5},
	{"exec", 5},
	{"anonymous-allowed", 3},
	{"configmap-credentials", 2},
}

var (
	auditUsers = []string{"system:node:node-1", "system:node:node-2", "system:kube-controller-manager", "system:kube-scheduler",
		"system:serviceaccount:kube-system:replicaset-controller", "system:serviceaccount:kube-system:deployment-controller",
		"system:serviceaccount:monitoring:prometheus", "system:serviceaccount:payments:api"}
	people     = []string{"alice@example.com", "bob@example.com", "ci-deployer", "kubernetes-admin"}
	namespaces = []string{"default", "payments", "search", "monitoring", "kube-system", "ingress"}
)

// AuditLog returns n audit events, one JSON object per line as the API
// server's log backend writes them, the same for the same seed.
func AuditLog(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x51ed27c1a0b3f9e5))
	var b strings.Builder
	t := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(r.IntN(2000)) * time.Microsecond)
		k := r.IntN(1000)
		kind := AuditMix[len(AuditMix)-1].Kind
		for _, m := range AuditMix {
			if k < m.PerMille {
				kind = m.Kind
				break
			}
			k -= m.PerMille
		}
		id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
		ns := pick(namespaces)
		name := fmt.Sprintf("%s-%05d", pick([]string{"web", "api", "worker", "cache"}), r.IntN(100000))
		e := auditEvent{id: id, t: t, user: pick(auditUsers), groups: `["system:authenticated"]`, ip: fmt.Sprintf("10.0.%d.%d", r.IntN(4), 1+r.IntN(250)),
			agent: "kube-controller-manager/v1.37.0 (linux/amd64) kubernetes/abcdef0", code: 200, level: "Metadata"}
		switch kind {
		case "lease-update":
			e.verb, e.res, e.group, e.ns, e.name = "update", "leases", "coordination.k8s.io", "kube-node-lease", fmt.Sprintf("node-%d", 1+r.IntN(50))
			e.user = fmt.Sprintf("system:node:node-%d", 1+r.IntN(50))
		case "get":
			e.verb, e.res, e.ns, e.name = "get", pick([]string{"pods", "services", "endpoints", "nodes", "serviceaccounts"}), ns, name
		case "list-watch":
			e.verb, e.res, e.ns = pick([]string{"list", "watch"}), pick([]string{"pods", "services", "endpointslices", "deployments"}), ns
			if e.res == "endpointslices" {
				e.group = "discovery.k8s.io"
			}
			if e.res == "deployments" {
				e.group = "apps"
			}
		case "event-create":
			e.verb, e.res, e.ns, e.name, e.code = "create", "events", ns, name+".18a0b", 201
		case "status-patch":
			e.verb, e.res, e.sub, e.ns, e.name = "patch", "pods", "status", ns, name
		case "configmap-get":
			e.verb, e.res, e.ns, e.name = "get", "configmaps", ns, "kube-root-ca.crt"
		case "secret-get":
			e.verb, e.res, e.ns, e.name = "get", "secrets", ns, name+"-tls"
		case "forbidden":
			e.verb, e.res, e.ns, e.code, e.decision = pick([]string{"get", "list"}), pick([]string{"secrets", "pods", "nodes"}), ns, 403, "forbid"
			e.user = pick(people)
		case "pod-create":
			e.verb, e.res, e.ns, e.name, e.code, e.level = "create", "pods", ns, name, 201, "RequestResponse"
			e.user = "system:serviceaccount:kube-system:replicaset-controller"
			priv := r.IntN(20) == 0
			e.request = fmt.Sprintf(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":%q,"namespace":%q,"labels":{"app":"web"}},"spec":{"volumes":[{"name":"data","emptyDir":{}}],"containers":[{"name":"app","image":"registry.example.com/web:1.%d","ports":[{"containerPort":8080}],"resources":{"limits":{"memory":"128Mi"}},"securityContext":{"privileged":%t,"runAsNonRoot":true}}],"serviceAccountName":"web","securityContext":{"seccompProfile":{"type":"RuntimeDefault"}}}}`, name, ns, r.IntN(9), priv)
		case "deployment-apply":
			e.verb, e.res, e.group, e.ns, e.name, e.level = pick([]string{"create", "patch", "update"}), "deployments", "apps", ns, name, "RequestResponse"
			e.user = pick(people)
			e.request = fmt.Sprintf(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":%q,"namespace":%q},"spec":{"replicas":%d,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},"spec":{"containers":[{"name":"app","image":"registry.example.com/web:2.%d"}]}}}}`, name, ns, 1+r.IntN(5), name, name, r.IntN(9))
		case "health":
			e.verb, e.uri, e.user, e.groups, e.decision = "get", pick([]string{"/healthz", "/readyz", "/livez"}), "system:anonymous", `["system:unauthenticated"]`, "allow"
		case "rbac-change":
			e.verb, e.res, e.group, e.name, e.code, e.level = "create", pick([]string{"clusterroles", "clusterrolebindings"}), "rbac.authorization.k8s.io", name, 201, "RequestResponse"
			e.user = pick(people)
			if e.res == "clusterroles" {
				e.request = `{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"` + name + `"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","delete"]}]}`
			} else {
				e.request = `{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"` + name + `"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"dana@example.com"}]}`
			}
		case "exec":
			e.verb, e.res, e.sub, e.ns, e.name, e.code, e.stage = "create", "pods", "exec", ns, name, 101, "ResponseStarted"
			e.user = pick(people)
		case "anonymous-allowed":
			e.verb, e.res, e.user, e.groups, e.decision = "list", "namespaces", "system:anonymous", `["system:unauthenticated"]`, "allow"
		case "configmap-credentials":
			e.verb, e.res, e.ns, e.name, e.code, e.level = "create", "configmaps", ns, name, 201, "RequestResponse"
			e.user = pick(people)
			e.request = `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"` + name + `"},"data":{"db_password":"hunter2"}}`
		}
		e.write(&b)
	}
	return []byte(b.String())
}

type auditEvent struct {
	id, user, groups, ip, agent, verb, res, sub, group, ns, name, uri, decision, level, stage, request string
	t                                                                                                  time.Time
	code                                                                                               int
}

func (e auditEvent) write(b *strings.Builder) {
	if e.stage == "" {
		e.stage = "ResponseComplete"
	}
	if e.decision == "" {
		e.decision = "allow"
	}
	version := "v1"
	if e.uri == "" {
		prefix := "/api/v1"
		if e.group != "" {
			prefix = "/apis/" + e.group + "/v1"
		}
		e.uri = prefix
		if e.ns != "" && e.res != "namespaces" {
			e.uri += "/namespaces/" + e.ns
		}
		e.uri += "/" + e.res
		if e.name != "" {
			e.uri += "/" + e.name
		}
		if e.sub != "" {
			e.uri += "/" + e.sub
		}
	}
	fmt.Fprintf(b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":%q,"auditID":%q,"stage":%q,"requestURI":%q,"verb":%q,"user":{"username":%q,"groups":%s},"sourceIPs":[%q],"userAgent":%q,`,
		e.level, e.id, e.stage, e.uri, e.verb, e.user, e.groups, e.ip, e.agent)
	if e.res != "" {
		fmt.Fprintf(b, `"objectRef":{"resource":%q,`, e.res)
		if e.sub != "" {
			fmt.Fprintf(b, `"subresource":%q,`, e.sub)
		}
		if e.ns != "" && e.res != "namespaces" {
			fmt.Fprintf(b, `"namespace":%q,`, e.ns)
		}
		if e.name != "" {
			fmt.Fprintf(b, `"name":%q,`, e.name)
		}
		fmt.Fprintf(b, `"apiGroup":%q,"apiVersion":%q},`, e.group, version)
	}
	fmt.Fprintf(b, `"responseStatus":{"metadata":{},"code":%d},`, e.code)
	if e.request != "" {
		fmt.Fprintf(b, `"requestObject":%s,"responseObject":%s,`, e.request, e.request)
	}
	ts := e.t.Format("2006-01-02T15:04:05.000000Z")
	fmt.Fprintf(b, `"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":%q,"authorization.k8s.io/reason":""}}`+"\n",
		ts, ts, e.decision)
}
