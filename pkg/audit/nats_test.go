package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rampart-k8s/rampart/internal/corpus"
)

// natsServer starts an embedded nats-server with JetStream on 127.0.0.1.
func natsServer(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// stream is a generated log with the stateful rules' patterns in it, as
// EventList batches of 100.
func stream(t *testing.T) (batches [][]byte, log []byte) {
	t.Helper()
	log = corpus.AuditLog(3000, 11)
	var extra [][]byte
	for i := range 30 { // Many Denied Requests, three times over
		extra = append(extra, ev(at(time.Duration(i)*time.Second, map[string]any{"auditID": fmt.Sprintf("deny-%d", i), "user.username": "mallory",
			"responseStatus.code": 403})))
	}
	for i := range 20 { // Many Secrets Read
		extra = append(extra, ev(at(time.Duration(i)*time.Second, map[string]any{"auditID": fmt.Sprintf("secret-%d", i), "user.username": "eve",
			"objectRef.resource": "secrets", "objectRef.name": fmt.Sprintf("s-%d", i)})))
	}
	lines := append(bytes.Split(bytes.TrimSpace(log), []byte("\n")), extra...)
	for i := 0; i < len(lines); i += 100 {
		end := min(i+100, len(lines))
		batches = append(batches, append(append([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`), bytes.Join(lines[i:end], []byte(","))...), ']', '}'))
	}
	return batches, bytes.Join(lines, []byte("\n"))
}

// alertSet is every alert of the alerts stream, as "rule|auditID", sorted.
func alertSet(t *testing.T, url string, want int) []string {
	t.Helper()
	c, nc, err := ConnectCluster(context.Background(), url, 8, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := c.js
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	var out []string
	for {
		s, err := js.Stream(ctx, AlertsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int(info.State.Msgs) >= want || time.Now().After(deadline) {
			out = nil
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
				m, err := s.GetMsg(ctx, seq)
				if err != nil {
					continue
				}
				var a Alert
				if err := json.Unmarshal(m.Data, &a); err != nil {
					t.Fatal(err)
				}
				out = append(out, a.Rule+"|"+a.AuditID)
			}
			sort.Strings(out)
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expected is what one detector in one process alerts on the same log.
func expected(t *testing.T, log []byte) []string {
	t.Helper()
	d := builtinDetector(t)
	var out []string
	var r Reader
	if err := r.Read("log", bytes.NewReader(log), func(e Event) error {
		for _, a := range d.Detect(e, nil) {
			out = append(out, a.Rule+"|"+a.AuditID)
		}
		return nil
	}, func(e InputError) { t.Fatal(e) }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestNATSReplicas: over NATS JetStream, one detector, three, and three
// with one killed and started again in the middle of the stream give the
// same alerts as one detector in one process, stateful rules included.
func TestNATSReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nats-server")
	}
	batches, log := stream(t)
	want := expected(t, log)
	stateful := 0
	for _, a := range want {
		if strings.HasPrefix(a, "Many Denied Requests|") || strings.HasPrefix(a, "Many Secrets Read|") {
			stateful++
		}
	}
	if stateful < 4 {
		t.Fatalf("the stream has %d stateful alerts; want the test to exercise them", stateful)
	}
	rules, err := Builtin().Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		replicas int
		kill     bool
	}{{"one replica", 1, false}, {"three replicas", 3, false}, {"three, one killed and restarted", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			url := natsServer(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			start := func(ctx context.Context, i int) chan struct{} {
				stopped := make(chan struct{})
				c, nc, err := ConnectCluster(ctx, url, 8, 1<<30)
				if err != nil {
					t.Error(err)
					close(stopped)
					return stopped
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer close(stopped)
					defer nc.Close()
					if err := c.Replica(ctx, rules, i, tc.replicas, func(e InputError) { t.Error(e) }); err != nil {
						t.Error(err)
					}
				}()
				return stopped
			}
			victim, kill := context.WithCancel(ctx)
			defer kill()
			var victimStopped chan struct{}
			for i := range tc.replicas {
				if tc.kill && i == 1 {
					victimStopped = start(victim, i)
				} else {
					start(ctx, i)
				}
			}
			pub, nc, err := ConnectCluster(ctx, url, 8, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			for i, b := range batches {
				if err := pub.Publish(ctx, b); err != nil {
					t.Fatal(err)
				}
				if tc.kill && i == len(batches)/2 {
					kill() // mid-stream
					<-victimStopped
					start(ctx, 1) // the same replica, started again once it stopped
				}
			}
			got := alertSet(t, url, len(want))
			cancel()
			wg.Wait()
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				missing, extra := diff(want, got)
				for _, m := range missing {
					id := strings.SplitN(m, "|", 2)[1]
					for _, line := range bytes.Split(log, []byte("\n")) {
						if bytes.Contains(line, []byte(`"auditID":"`+id+`"`)) {
							var e struct{ User struct{ Username string } }
							_ = json.Unmarshal(line, &e)
							t.Logf("missing %s: user %s, partition %d", m, e.User.Username, pub.partition("Many Secrets Read", e.User.Username))
						}
					}
				}
				js := pub.js
				for p := range 8 {
					if ci, err := js.Consumer(context.Background(), stateStream, fmt.Sprintf("state-%d", p)); err == nil {
						info, _ := ci.Info(context.Background())
						t.Logf("state-%d: pending %d, ack pending %d, redelivered %d, delivered %d", p, info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered.Stream)
					}
				}
				t.Fatalf("%d alerts, want %d as in one process; missing %v; extra %v", len(got), len(want), head(missing), head(extra))
			}
			t.Logf("%d alerts (%d stateful), the same as one process", len(got), stateful)
		})
	}
}

func diff(want, got []string) (missing, extra []string) {
	w, g := map[string]bool{}, map[string]bool{}
	for _, x := range want {
		w[x] = true
	}
	for _, x := range got {
		g[x] = true
		if !w[x] {
			extra = append(extra, x)
		}
	}
	for _, x := range want {
		if !g[x] {
			missing = append(missing, x)
		}
	}
	return missing, extra
}

func head(s []string) []string { return s[:min(5, len(s))] }
