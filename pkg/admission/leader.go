package admission

import (
	"context"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// RunAsLeader runs c's judgements only while this replica holds the Lease
// name in namespace (coordination.k8s.io): of the webhook's replicas, one
// writes the Reports and remediates, the others stand by. Leadership lost
// (the API server out of reach for the renew deadline) stops the
// judgements and the replica stands for election again; admission is not
// affected. It returns when ctx ends.
func (c *Compliance) RunAsLeader(ctx context.Context, cs kubernetes.Interface, namespace, name, identity string) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					slog.Info("background judgements: leading", "lease", namespace+"/"+name, "identity", identity)
					if err := c.Run(lctx); err != nil {
						slog.Error("background judgements stopped", "error", err)
					}
				},
				OnStoppedLeading: func() { slog.Info("background judgements: standing by", "lease", namespace+"/"+name) },
			},
		})
	}
}
