package netpol

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Change is a set of connections a change of manifests adds or removes:
// every workload of From may (Added) or may no longer (removed) connect to
// every workload of To on Ports.
type Change struct {
	Added bool        `json:"added"`
	From  []string    `json:"from"`
	To    []string    `json:"to"`
	Ports []PortRange `json:"ports"`
}

// side is one version of the manifests, ready for class-level decisions.
type diffSide struct {
	e       *Engine
	classes []*class
	classOf map[string]int // workload name -> class
}

func newDiffSide(e *Engine, ws []Workload) *diffSide {
	s := &diffSide{e: e, classes: e.classes(Pods(ws)), classOf: map[string]int{}}
	for ci, c := range s.classes {
		for _, i := range c.pods {
			s.classOf[ws[i].Name] = ci
		}
	}
	return s
}

func (s *diffSide) allowed(from, to int, port Port) bool {
	if from < 0 || to < 0 {
		return false // the workload does not exist on this side
	}
	src, dst := s.classes[from], s.classes[to]
	return s.e.sideByClass(src, src.out, true, dst, port) && s.e.sideByClass(dst, dst.in, false, src, port)
}

// Diff returns the connections between workloads that the new manifests add
// and those they remove, compared by workload name (a workload on one side
// only has no connections on the other). Workloads are grouped by their
// classes on both sides, so the work grows with classes, not pods.
func Diff(oldE *Engine, oldW []Workload, newE *Engine, newW []Workload) []Change {
	o, n := newDiffSide(oldE, oldW), newDiffSide(newE, newW)
	// Combined classes: workloads with the same class on each side.
	type key struct{ o, n int }
	groupOf := map[key]int{}
	var keys []key
	var members [][]string
	add := func(name string) {
		k := key{-1, -1}
		if c, ok := o.classOf[name]; ok {
			k.o = c
		}
		if c, ok := n.classOf[name]; ok {
			k.n = c
		}
		g, ok := groupOf[k]
		if !ok {
			g = len(keys)
			groupOf[k] = g
			keys = append(keys, k)
			members = append(members, nil)
		}
		members[g] = append(members[g], name)
	}
	seen := map[string]bool{}
	for _, ws := range [][]Workload{oldW, newW} {
		for _, w := range ws {
			if !seen[w.Name] {
				seen[w.Name] = true
				add(w.Name)
			}
		}
	}
	ports := mergePortClasses(oldE.PortClasses(Pods(oldW)), newE.PortClasses(Pods(newW)))
	var out []Change
	for gi, a := range keys {
		for gj, b := range keys {
			var added, removed []PortRange
			for _, pr := range ports {
				p := Port{Protocol: pr.Protocol, Number: pr.From}
				was, is := o.allowed(a.o, b.o, p), n.allowed(a.n, b.n, p)
				switch {
				case is && !was:
					added = append(added, pr)
				case was && !is:
					removed = append(removed, pr)
				}
			}
			for _, c := range []struct {
				added bool
				ports []PortRange
			}{{true, added}, {false, removed}} {
				if len(c.ports) > 0 {
					from := append([]string{}, members[gi]...)
					to := append([]string{}, members[gj]...)
					sort.Strings(from)
					sort.Strings(to)
					out = append(out, Change{Added: c.added, From: from, To: to, Ports: c.ports})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Added != out[j].Added {
			return out[i].Added
		}
		if out[i].From[0] != out[j].From[0] {
			return out[i].From[0] < out[j].From[0]
		}
		return out[i].To[0] < out[j].To[0]
	})
	return out
}

// Pods returns the pods of workloads, in order.
func Pods(ws []Workload) []*Pod {
	out := make([]*Pod, len(ws))
	for i, w := range ws {
		out[i] = w.Pod
	}
	return out
}

// mergePortClasses cuts the port space at the boundaries of both lists.
func mergePortClasses(a, b []PortRange) []PortRange {
	cuts := map[corev1.Protocol]map[int32]bool{}
	for _, rs := range [][]PortRange{a, b} {
		for _, r := range rs {
			if cuts[r.Protocol] == nil {
				cuts[r.Protocol] = map[int32]bool{}
			}
			cuts[r.Protocol][r.From] = true
			cuts[r.Protocol][r.To+1] = true
		}
	}
	return rangesFromCuts(cuts)
}

// String renders a port range as "TCP 80", "TCP 80-90" or "TCP all".
func (r PortRange) String() string {
	if r.From == 1 && r.To == 65535 {
		return string(r.Protocol) + " all"
	}
	if r.From == r.To {
		return string(r.Protocol) + " " + strconv.Itoa(int(r.From))
	}
	return string(r.Protocol) + " " + strconv.Itoa(int(r.From)) + "-" + strconv.Itoa(int(r.To))
}
