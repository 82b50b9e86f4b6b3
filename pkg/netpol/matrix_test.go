package netpol

import (
	"testing"
)

// TestMatrixAgreesWithDecide: on random worlds, the class matrix gives, for
// every pair of pods and every port class (checked at both ends of the
// range), the answer Decide gives for the pods themselves.
func TestMatrixAgreesWithDecide(t *testing.T) {
	classesSeen, podsSeen := 0, 0
	for seed := range uint64(200) {
		w := randWorld(seed)
		e, err := New(w.policies)
		if err != nil {
			t.Fatal(err)
		}
		var pods []*Pod
		for _, ep := range w.endpoints {
			if ep.Pod != nil {
				pods = append(pods, ep.Pod)
			}
		}
		groups, exts, cells := e.Matrix(pods)
		classOf := make([]int, len(pods))
		n := 0
		for ci, g := range groups {
			for _, i := range g {
				classOf[i] = ci
				n++
			}
		}
		if n != len(pods) {
			t.Fatalf("seed %d: classes hold %d pods, want %d", seed, n, len(pods))
		}
		classesSeen += len(groups)
		podsSeen += len(pods)
		ports := e.PortClasses(pods)
		k := len(groups) + len(exts)
		if want := (k*k - len(exts)*len(exts)) * len(ports); len(cells) != want {
			t.Fatalf("seed %d: %d cells, want %d", seed, len(cells), want)
		}
		// members of a class as endpoints: its pods, or the external
		// region's address plus the other candidate addresses in it.
		members := func(ci int) []Endpoint {
			if ci >= len(groups) {
				return []Endpoint{{IP: exts[ci-len(groups)].IP}}
			}
			var out []Endpoint
			for _, i := range groups[ci] {
				out = append(out, Endpoint{Pod: pods[i]})
			}
			return out
		}
		for _, c := range cells {
			for _, a := range members(c.From) {
				for _, b := range members(c.To) {
					for _, num := range []int32{c.Port.From, c.Port.To} {
						got := e.Decide(a, b, Port{Protocol: c.Port.Protocol, Number: num}).Allowed
						if got != c.Allowed {
							t.Fatalf("seed %d: class %d -> %d on %s/%d: Decide %v, matrix %v", seed, c.From, c.To, c.Port.Protocol, num, got, c.Allowed)
						}
					}
				}
			}
		}
	}
	if classesSeen >= podsSeen {
		t.Errorf("classes never merged pods: %d classes for %d pods", classesSeen, podsSeen)
	}
}
