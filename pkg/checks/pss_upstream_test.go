package checks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// upstreamToRampart maps the fixture name prefixes of
// k8s.io/pod-security-admission (its check IDs, lowercased) to Rampart checks.
var upstreamToRampart = map[string]string{
	"allowprivilegeescalation":   "pss-allow-privilege-escalation",
	"apparmorprofile":            "pss-apparmor",
	"capabilities_baseline":      "pss-capabilities-baseline",
	"capabilities_restricted":    "pss-capabilities-restricted",
	"hostnamespaces":             "pss-host-namespaces",
	"hostpathvolumes":            "pss-host-path-volumes",
	"hostports":                  "pss-host-ports",
	"hostprobesandhostlifecycle": "pss-host-probes-lifecycle",
	"privileged":                 "pss-privileged",
	"procmount":                  "pss-proc-mount",
	"procmount_restricted":       "pss-proc-mount-restricted",
	"restrictedvolumes":          "pss-restricted-volumes",
	"runasnonroot":               "pss-run-as-non-root",
	"runasuser":                  "pss-run-as-user",
	"seccompprofile_baseline":    "pss-seccomp-baseline",
	"seccompprofile_restricted":  "pss-seccomp-restricted",
	"selinuxoptions":             "pss-selinux",
	"sysctls":                    "pss-sysctls",
	"windowshostprocess":         "pss-windows-host-process",
}

func TestUpstreamMappingIsComplete(t *testing.T) {
	pssOnce.Do(loadPSS)
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pssUpstream {
		id, ok := upstreamToRampart[strings.ToLower(string(c.ID))]
		if !ok {
			t.Errorf("upstream control %s has no Rampart check", c.ID)
			continue
		}
		if _, ok := reg.Get(id); !ok {
			t.Errorf("upstream control %s maps to %s, which is not in the catalog", c.ID, id)
		}
	}
	if len(pssUpstream) != len(upstreamToRampart) {
		t.Errorf("%d upstream controls, %d mapped", len(pssUpstream), len(upstreamToRampart))
	}
}

// upstreamFixtures returns the folder of fixtures k8s.io/pod-security-admission
// ships in its module (test/testdata/<level>/<version>/{pass,fail}/*.yaml).
func upstreamFixtures(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/pod-security-admission").Output()
	if err != nil {
		t.Fatalf("locating k8s.io/pod-security-admission: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "test", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("upstream fixtures: %v", err)
	}
	return dir
}

// wrap puts a pod's metadata and spec into each workload kind, as YAML.
func wrap(t *testing.T, pod *corev1.Pod) map[string][]byte {
	t.Helper()
	tpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}, Annotations: pod.Annotations}, Spec: pod.Spec}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	om := metav1.ObjectMeta{Name: pod.Name}
	objs := map[string]runtime.Object{
		"Pod":                   pod,
		"Deployment":            &appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: om, Spec: appsv1.DeploymentSpec{Selector: sel, Template: tpl}},
		"ReplicaSet":            &appsv1.ReplicaSet{TypeMeta: tm("apps/v1", "ReplicaSet"), ObjectMeta: om, Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: tpl}},
		"StatefulSet":           &appsv1.StatefulSet{TypeMeta: tm("apps/v1", "StatefulSet"), ObjectMeta: om, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: tpl}},
		"DaemonSet":             &appsv1.DaemonSet{TypeMeta: tm("apps/v1", "DaemonSet"), ObjectMeta: om, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tpl}},
		"Job":                   &batchv1.Job{TypeMeta: tm("batch/v1", "Job"), ObjectMeta: om, Spec: batchv1.JobSpec{Template: tpl}},
		"CronJob":               &batchv1.CronJob{TypeMeta: tm("batch/v1", "CronJob"), ObjectMeta: om, Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tpl}}}},
		"ReplicationController": &corev1.ReplicationController{TypeMeta: tm("v1", "ReplicationController"), ObjectMeta: om, Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "x"}, Template: &tpl}},
	}
	out := map[string][]byte{}
	for kind, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		out[kind] = b
	}
	return out
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// TestUpstreamPSSFixtures checks that Rampart's PSS verdict on every fixture
// k8s.io/pod-security-admission ships equals the fixture's expectation and the
// upstream evaluator's: a pod is allowed exactly when no pss-* check fires.
// Every version is run on the Pod itself; the newest version is also run on
// the same pod spec wrapped in each workload kind.
func TestUpstreamPSSFixtures(t *testing.T) {
	root := upstreamFixtures(t)
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pssOnce.Do(loadPSS)
	latest := fmt.Sprintf("v%d.%d", pssMax.Major(), pssMax.Minor())
	counts := map[string]int{}
	for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
		versions, err := os.ReadDir(filepath.Join(root, string(level)))
		if err != nil {
			t.Fatal(err)
		}
		sawLatest := false
		for _, vdir := range versions {
			version, err := api.ParseVersion(vdir.Name())
			if err != nil {
				t.Fatalf("%s: %v", vdir.Name(), err)
			}
			isLatest := vdir.Name() == latest
			sawLatest = sawLatest || isLatest
			for _, expect := range []string{"pass", "fail"} {
				files, _ := filepath.Glob(filepath.Join(root, string(level), vdir.Name(), expect, "*.yaml"))
				if len(files) == 0 {
					continue
				}
				for _, f := range files {
					data, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					lvs := []api.LevelVersion{{Level: level, Version: version}}
					if isLatest {
						lvs = append(lvs, api.LevelVersion{Level: level, Version: api.LatestVersion()})
					}
					objs, errs := manifest.Parse(f, data)
					if len(errs) > 0 || len(objs) != 1 {
						t.Fatalf("%s: %v", f, errs)
					}
					pod := objs[0].Typed.(*corev1.Pod)
					defaulted := pod.DeepCopy()
					object.DefaultPodSpec(&defaulted.Spec) // as the API server does before admission
					upstreamAllowed := policy.AggregateCheckResults(evaluator.EvaluatePod(lvs[0], &defaulted.ObjectMeta, &defaulted.Spec)).Allowed
					if upstreamAllowed != (expect == "pass") {
						t.Fatalf("%s: the upstream evaluator disagrees with its own fixture", f)
					}
					inputs := map[string][]byte{"Pod": data}
					if isLatest {
						inputs = wrap(t, pod)
					}
					for kind, in := range inputs {
						for _, lv := range lvs {
							res := scanBytes(t, f, in, lv)
							var pss []string
							for _, fd := range res.Findings {
								if fd.Category == check.CategoryPSS {
									pss = append(pss, fd.CheckID)
								}
								if fd.CheckID == "schema" {
									t.Errorf("%s as %s: schema finding %s", f, kind, fd.Message)
								}
							}
							counts[string(level)+"/"+expect]++
							rel, _ := filepath.Rel(root, f)
							if allowed := len(pss) == 0; allowed != (expect == "pass") {
								t.Errorf("%s as %s at %s: Rampart allowed=%v, fixture expects %s (findings %v)", rel, kind, lv, allowed, expect, pss)
								continue
							}
							if expect == "fail" {
								prefix := strings.TrimRight(strings.TrimSuffix(filepath.Base(f), ".yaml"), "0123456789")
								want := upstreamToRampart[prefix]
								sort.Strings(pss)
								if want == "" || !contains(pss, want) {
									t.Errorf("%s as %s at %s: findings %v, want %s among them", rel, kind, lv, pss, want)
								}
							}
						}
					}
				}
			}
		}
		if !sawLatest {
			t.Errorf("%s: no fixtures for the newest policy version %s", level, latest)
		}
	}
	t.Logf("scans per level/expectation: %v", counts)
	for _, k := range []string{"baseline/pass", "baseline/fail", "restricted/pass", "restricted/fail"} {
		if counts[k] == 0 {
			t.Errorf("no %s fixtures ran", k)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
