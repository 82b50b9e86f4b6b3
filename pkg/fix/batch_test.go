package fix

import (
	"math/rand/v2"
	"testing"
)

// TestBatchEqualsSequential: sets made on one parse give the text that
// making them one after the other gives, whenever the batch takes them.
func TestBatchEqualsSequential(t *testing.T) {
	docs := []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: a:1\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      securityContext:\n        runAsUser: 0\n      containers:\n      - name: a\n        image: a:1\n        securityContext:\n          privileged: true # keep me\n        resources:\n          limits: {cpu: 100m}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: a:1\n          securityContext: {privileged: true}\n      volumes: []\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: a:1\n        securityContext:\n          capabilities:\n            add:\n            - NET_ADMIN\n      - name: b\n        image: b:1",
	}
	c := "spec.template.spec.containers[0]"
	candidates := []set{
		{Op: opSet, Path: c + ".securityContext.allowPrivilegeEscalation", Value: "false"},
		{Op: opSet, Path: c + ".securityContext.privileged", Value: "false"},
		{Op: opSet, Path: c + ".securityContext.capabilities.drop", Value: `["ALL"]`},
		{Op: opSet, Path: c + ".securityContext.capabilities.add", Value: `[]`},
		{Op: opSet, Path: c + ".securityContext.runAsNonRoot", Value: "true"},
		{Op: opSet, Path: c + ".securityContext.seccompProfile.type", Value: "RuntimeDefault", IfMissing: true},
		{Op: opSet, Path: "spec.template.spec.securityContext.runAsNonRoot", Value: "true", IfMissing: true},
		{Op: opSet, Path: "spec.template.spec.securityContext.runAsUser", Value: "10001"},
		{Op: opSet, Path: "spec.template.spec.automountServiceAccountToken", Value: "false"},
		{Op: opSet, Path: "spec.template.spec.serviceAccountName", Value: "a"},
		{Op: opSet, Path: c + ".resources.limits.cpu", Value: `"500m"`, IfMissing: true},
		{Op: opSet, Path: c + ".resources.requests.memory", Value: `"128Mi"`, IfMissing: true},
		{Op: opSet, Path: "spec.template.spec.containers[1].securityContext.runAsNonRoot", Value: "true"},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	batched := 0
	for round := 0; round < 6000; round++ {
		doc := docs[rng.IntN(len(docs))]
		var recipes [][]set
		for n := 1 + rng.IntN(6); len(recipes) < n; {
			var r []set
			for k := 1 + rng.IntN(2); len(r) < k; {
				r = append(r, candidates[rng.IntN(len(candidates))])
			}
			recipes = append(recipes, r)
		}
		got, changed, ok := applyBatch(doc, 1, recipes)
		if !ok {
			continue
		}
		batched++
		want := doc
		for i, r := range recipes {
			out, ch, err := applySequential(want, 1, [][]set{r})
			if err != nil || ch != changed[i] {
				t.Fatalf("round %d: recipe %d %v: sequential changed=%v err=%v, batch changed=%v\n%s", round, i, r, ch, err, changed[i], doc)
			}
			want = out
		}
		if got != want {
			t.Fatalf("round %d: batch and sequential differ for %v\nbatch:\n%s\nsequential:\n%s", round, recipes, got, want)
		}
	}
	if batched < 1500 {
		t.Fatalf("only %d of 6000 batches taken on one parse", batched)
	}
}
