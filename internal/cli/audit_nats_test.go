package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rampart-k8s/rampart/internal/testcert"
)

// TestAuditOverNATS: the commands of the scaled-out form, with an embedded
// nats-server: a batch POSTed to `audit serve --nats` is detected by an
// `audit replica`, and `audit alerts` writes the alert; all three stop
// when asked.
func TestAuditOverNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nats-server")
	}
	dir := t.TempDir()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(dir, "js"), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer ns.Shutdown()
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Serving("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := srv.Write(dir, "tls")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := filepath.Join(dir, "alerts.jsonl")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	codes := make([]int, 3)
	stderrs := make([]*bytes.Buffer, 3)
	for i, args := range [][]string{
		{"audit", "serve", "--nats", ns.ClientURL(), "--listen", addr, "--tls-cert-file", certFile, "--tls-private-key-file", keyFile, "--allow-any-client"},
		{"audit", "replica", "--nats", ns.ClientURL(), "--index", "0", "--replicas", "1"},
		{"audit", "alerts", "--nats", ns.ClientURL(), "--output-file", out},
	} {
		wg.Add(1)
		stderrs[i] = &bytes.Buffer{}
		go func() {
			defer wg.Done()
			codes[i] = MainContext(ctx, args, strings.NewReader(""), &bytes.Buffer{}, stderrs[i])
		}()
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	batch := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + privilegedPodEvent + `]}`
	deadline := time.Now().Add(30 * time.Second)
	posted := false
	for {
		if !posted {
			if resp, err := client.Post("https://"+addr+"/audit", "application/json", strings.NewReader(batch)); err == nil {
				resp.Body.Close()
				posted = resp.StatusCode == http.StatusOK
			}
		}
		if data, _ := os.ReadFile(out); strings.Contains(string(data), `"rule":"Create Privileged Pod"`) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("no alert (posted %v); stderr: %s | %s | %s", posted, stderrs[0], stderrs[1], stderrs[2])
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	for i, c := range codes {
		if c != ExitOK {
			t.Errorf("command %d exited %d: %s", i, c, stderrs[i])
		}
	}
}
