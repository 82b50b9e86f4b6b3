package netpol

import (
	"math/rand/v2"
	"strconv"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// TestDiffAgreesWithDecide: on random worlds changed by adding a rule or
// deleting a policy, a connection (pod pair, port) is reported added or
// removed exactly when Decide before and after differ.
func TestDiffAgreesWithDecide(t *testing.T) {
	changes := 0
	for seed := range uint64(200) {
		w := randWorld(seed)
		r := rand.New(rand.NewPCG(seed, 4))
		changed := make([]*networkingv1.NetworkPolicy, 0, len(w.policies))
		for _, p := range w.policies {
			changed = append(changed, p.DeepCopy())
		}
		if r.IntN(2) == 0 || len(changed) == 1 {
			peers, ports := randRule(r)
			target := changed[r.IntN(len(changed))]
			target.Spec.Ingress = append(target.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
		} else {
			i := r.IntN(len(changed))
			changed = append(changed[:i], changed[i+1:]...)
		}
		var ws []Workload
		for i, ep := range w.endpoints {
			if ep.Pod != nil {
				ws = append(ws, Workload{Name: "w" + strconv.Itoa(i), Pod: ep.Pod})
			}
		}
		oldE, err := New(w.policies)
		if err != nil {
			t.Fatal(err)
		}
		newE, err := New(changed)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{} // "from to proto/port" -> added
		ds := Diff(oldE, ws, newE, ws)
		changes += len(ds)
		for _, c := range ds {
			for _, f := range c.From {
				for _, to := range c.To {
					for _, p := range c.Ports {
						for _, num := range []int32{p.From, p.To} {
							got[f+" "+to+" "+string(p.Protocol)+"/"+strconv.Itoa(int(num))] = c.Added
						}
					}
				}
			}
		}
		for _, pr := range mergePortClasses(oldE.PortClasses(Pods(ws)), newE.PortClasses(Pods(ws))) {
			for _, num := range []int32{pr.From, pr.To} {
				port := Port{Protocol: pr.Protocol, Number: num}
				for _, a := range ws {
					for _, b := range ws {
						was := oldE.Decide(Endpoint{Pod: a.Pod}, Endpoint{Pod: b.Pod}, port).Allowed
						is := newE.Decide(Endpoint{Pod: a.Pod}, Endpoint{Pod: b.Pod}, port).Allowed
						k := a.Name + " " + b.Name + " " + string(port.Protocol) + "/" + strconv.Itoa(int(num))
						added, reported := got[k]
						if (was != is) != reported || (reported && added != is) {
							t.Fatalf("seed %d: %s: before %v, after %v, diff reported %v (added %v)", seed, k, was, is, reported, added)
						}
					}
				}
			}
		}
	}
	if changes == 0 {
		t.Error("no random change ever changed connectivity")
	}
}
