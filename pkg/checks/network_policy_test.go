package checks

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPolicyDirections(t *testing.T) {
	egressRule := []networkingv1.NetworkPolicyEgressRule{{}}
	tests := []struct {
		name            string
		give            networkingv1.NetworkPolicySpec
		wantIn, wantOut bool
	}{
		{"types omitted, no egress rules", networkingv1.NetworkPolicySpec{}, true, false},
		{"types omitted, egress rules", networkingv1.NetworkPolicySpec{Egress: egressRule}, true, true},
		{"egress only", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}, false, true},
		{"both", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}, true, true},
	}
	for _, tt := range tests {
		in, out := policyDirections(&networkingv1.NetworkPolicy{Spec: tt.give})
		if in != tt.wantIn || out != tt.wantOut {
			t.Errorf("%s: got ingress=%v egress=%v, want %v %v", tt.name, in, out, tt.wantIn, tt.wantOut)
		}
	}
}

func TestSelects(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	tests := []struct {
		name string
		give metav1.LabelSelector
		want bool
	}{
		{"empty selects every pod", metav1.LabelSelector{}, true},
		{"matchLabels", metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{"matchLabels mismatch", metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, false},
		{"In", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}}}}, true},
		{"DoesNotExist", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpDoesNotExist}}}, false},
		{"invalid operator selects nothing", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}, false},
	}
	for _, tt := range tests {
		if got := selects(&networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PodSelector: tt.give}}, labels); got != tt.want {
			t.Errorf("%s: selects=%v, want %v", tt.name, got, tt.want)
		}
	}
}
