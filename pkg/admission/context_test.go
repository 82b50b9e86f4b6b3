package admission

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rampart-k8s/rampart/pkg/check"
)

// TestNamespaceNotYetCached: a Namespace the informer has not delivered yet
// (applied with its pods) is read from the API server, so its labels choose
// the modes; an unknown one keeps the defaults. (A fake clientset: the
// informer path is tested with the real API server in internal/e2e/webhook.)
func TestNamespaceNotYetCached(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh",
		Labels: map[string]string{EnforceLabel: "critical", MutateLabel: "true"}}})
	c := NewClusterContext(cs) // not started: the cache is empty
	high := check.High
	modes, problems := c.Modes("fresh", [3]*check.Severity{&high, nil, nil})
	if modes[0] == nil || *modes[0] != check.Critical || len(problems) > 0 {
		t.Errorf("modes of a namespace not yet cached: %v %v", modes[0], problems)
	}
	if !c.Mutates("fresh") {
		t.Error("mutation label of a namespace not yet cached not read")
	}
	if modes, _ := c.Modes("gone", [3]*check.Severity{&high, nil, nil}); modes[0] != &high {
		t.Errorf("an unknown namespace did not keep the defaults: %v", modes[0])
	}
}

// TestContextFollowsChangesAfterStart: the informers outlive the bounded
// wait for their first sync: a label set on a Namespace later (here after
// the wait has ended) changes its modes.
func TestContextFollowsChangesAfterStart(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	c := NewClusterContext(cs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // past the wait
	high := check.High
	if modes, _ := c.Modes("team", [3]*check.Severity{&high, nil, nil}); modes[0] != &high {
		t.Fatalf("modes before the label: %v", modes[0])
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{EnforceLabel: "none"}}}
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if modes, _ := c.Modes("team", [3]*check.Severity{&high, nil, nil}); modes[0] == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the label set after start was never seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
