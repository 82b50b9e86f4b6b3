package checks

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// Pod Security Standards verdicts come from k8s.io/pod-security-admission's
// policy package, the code the API server's admission plugin runs: Rampart
// never re-implements a control. It only chooses which upstream check
// functions apply at a level and version (with the same override rules as the
// upstream registry) and, once a control forbids a pod, re-runs it on reduced
// copies of the pod spec to point at the exact container, volume, sysctl or
// pod-level field that makes it fail.

var (
	pssOnce     sync.Once
	pssUpstream []policy.Check
	pssMax      api.Version
	pssSets     sync.Map // api.LevelVersion -> map[policy.CheckID]policy.CheckPodFn
)

func loadPSS() {
	pssUpstream = policy.DefaultChecks()
	for _, c := range pssUpstream {
		if v := c.Versions[len(c.Versions)-1].MinimumVersion; pssMax.Older(v) {
			pssMax = v
		}
	}
}

// pssApplicable returns the upstream check functions that apply at lv, keyed
// by upstream check ID: baseline checks at both levels and restricted checks
// at restricted. Versions newer than the newest policy, and "latest", use the
// newest policy, as the upstream evaluator does.
//
// Upstream skips, at restricted, the baseline checks that a restricted check
// overrides (capabilities, seccomp, hostPath, procMount). Rampart keeps them:
// each overridden baseline check forbids a subset of what its restricted
// override forbids, so the verdict on a pod is the same, and the finding keeps
// the baseline control's higher severity (a container adding SYS_ADMIN is
// more than a container that forgot to drop ALL).
func pssApplicable(lv api.LevelVersion) map[policy.CheckID]policy.CheckPodFn {
	pssOnce.Do(loadPSS)
	if lv.Level == api.LevelPrivileged {
		return nil
	}
	if lv.Latest() || pssMax.Older(lv.Version) {
		lv.Version = pssMax
	}
	if s, ok := pssSets.Load(lv); ok {
		return s.(map[policy.CheckID]policy.CheckPodFn)
	}
	set := map[policy.CheckID]policy.CheckPodFn{}
	for _, c := range pssUpstream {
		if c.Level == api.LevelRestricted && lv.Level != api.LevelRestricted {
			continue
		}
		var vc *policy.VersionedCheck
		for i := range c.Versions {
			if !lv.Older(c.Versions[i].MinimumVersion) {
				vc = &c.Versions[i]
			}
		}
		if vc == nil {
			continue
		}
		set[c.ID] = vc.CheckPod
	}
	pssSets.Store(lv, set)
	return set
}

// pssControl binds a Rampart check to one upstream control.
type pssControl struct {
	upstream policy.CheckID
	// field is the path, relative to a container and to the pod spec, of the
	// setting the control restricts, e.g. securityContext.runAsNonRoot.
	field string
	// containerField, when set, computes the container-relative path instead.
	containerField func(c *corev1.Container) string
}

var podScope = check.Scope{PodSpec: true}

// pssReads: a Pod Security check reads the Namespace its object lands in,
// whose labels can set the level and version to judge by.
var pssReads = []string{"Namespace"}

func pssReference(anchor, title string) check.Ref {
	return check.Ref{Source: "pss", ID: anchor, Title: title, URL: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#" + anchor}
}

func (ctl pssControl) run(ctx *check.Context, o *object.Object) []check.Finding {
	fn := pssApplicable(ctx.PSSFor(o))[ctl.upstream]
	if fn == nil {
		return nil
	}
	pod := o.Pod
	res := fn(pod.Meta, pod.Spec)
	if res.Allowed {
		return nil
	}
	var out []check.Finding
	add := func(field string, r policy.CheckResult) {
		msg := r.ForbiddenReason
		if r.ForbiddenDetail != "" {
			msg += ": " + r.ForbiddenDetail
		}
		out = append(out, check.NewFinding(o, field, msg))
	}
	spec := pod.SpecPath

	// Pod-level settings: run the control on the pod without its containers,
	// then on each pod-level part alone to find which one fails.
	podOnly := *pod.Spec
	podOnly.Containers, podOnly.InitContainers, podOnly.EphemeralContainers = nil, nil, nil
	podRes := fn(pod.Meta, &podOnly)
	if !podRes.Allowed {
		n := len(out)
		bare := podOnly
		bare.Volumes, bare.SecurityContext = nil, nil
		bare.HostNetwork, bare.HostPID, bare.HostIPC = false, false, false
		empty := &metav1.ObjectMeta{}
		for i, v := range pod.Spec.Volumes {
			s := bare
			s.Volumes = []corev1.Volume{v}
			if r := fn(empty, &s); !r.Allowed {
				path := manifest.JoinIndex(spec+".volumes", i)
				if t := volumeType(&v); t != "" {
					path = manifest.JoinKey(path, t)
				}
				add(path, r)
			}
		}
		for _, h := range []struct {
			name string
			set  bool
			fill func(*corev1.PodSpec)
		}{
			{"hostNetwork", pod.Spec.HostNetwork, func(s *corev1.PodSpec) { s.HostNetwork = true }},
			{"hostPID", pod.Spec.HostPID, func(s *corev1.PodSpec) { s.HostPID = true }},
			{"hostIPC", pod.Spec.HostIPC, func(s *corev1.PodSpec) { s.HostIPC = true }},
		} {
			if !h.set {
				continue
			}
			s := bare
			h.fill(&s)
			if r := fn(empty, &s); !r.Allowed {
				add(spec+"."+h.name, r)
			}
		}
		if sc := pod.Spec.SecurityContext; sc != nil {
			for i, sysctl := range sc.Sysctls {
				s := bare
				s.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{sysctl}}
				if r := fn(empty, &s); !r.Allowed {
					add(manifest.JoinIndex(spec+".securityContext.sysctls", i), r)
				}
			}
			rest := *sc
			rest.Sysctls = nil
			s := bare
			s.SecurityContext = &rest
			if r := fn(empty, &s); !r.Allowed {
				add(spec+"."+ctl.field, r)
			}
		}
		if len(pod.Meta.Annotations) > 0 {
			if r := fn(pod.Meta, &bare); !r.Allowed {
				add(pod.MetaPath+".annotations", r)
			}
		}
		if len(out) == n {
			add(spec, podRes)
		}
	}

	// Containers: run the control on the pod with one container at a time.
	// With a single container and a pod-level part that passes, the
	// container alone is what failed: no second run is needed.
	single := podRes.Allowed && len(pod.Spec.InitContainers)+len(pod.Spec.Containers)+len(pod.Spec.EphemeralContainers) == 1
	noAnnotations := &metav1.ObjectMeta{Name: pod.Meta.Name, Namespace: pod.Meta.Namespace, Labels: pod.Meta.Labels}
	visit := func(list string, i int, c *corev1.Container, put func(*corev1.PodSpec)) {
		r := res
		if !single {
			s := podOnly
			put(&s)
			r = fn(noAnnotations, &s)
		}
		if r.Allowed || (!podRes.Allowed && !strings.Contains(r.ForbiddenDetail, fmt.Sprintf("%q", c.Name))) {
			return
		}
		field := ctl.field
		if ctl.containerField != nil {
			field = ctl.containerField(c)
		}
		path := manifest.JoinIndex(spec+"."+list, i)
		if field != "" {
			path += "." + field
		}
		add(path, r)
	}
	for i := range pod.Spec.InitContainers {
		c := pod.Spec.InitContainers[i]
		visit("initContainers", i, &c, func(s *corev1.PodSpec) { s.InitContainers = []corev1.Container{c} })
	}
	for i := range pod.Spec.Containers {
		c := pod.Spec.Containers[i]
		visit("containers", i, &c, func(s *corev1.PodSpec) { s.Containers = []corev1.Container{c} })
	}
	for i := range pod.Spec.EphemeralContainers {
		c := pod.Spec.EphemeralContainers[i]
		visit("ephemeralContainers", i, (*corev1.Container)(&c.EphemeralContainerCommon), func(s *corev1.PodSpec) {
			s.EphemeralContainers = []corev1.EphemeralContainer{c}
		})
	}
	if len(out) == 0 {
		add(spec, res)
	}
	return out
}

// volumeType returns the JSON name of the volume's source, e.g. hostPath.
func volumeType(v *corev1.Volume) string {
	rv := reflect.ValueOf(v.VolumeSource)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}
