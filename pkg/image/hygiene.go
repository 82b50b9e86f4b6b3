package image

import (
	"fmt"
	"strings"
	"time"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/secret"
)

// Hygiene check IDs: what an image carries that a minimal image would not.
const (
	CheckRunsAsRoot     = "image-runs-as-root"
	CheckShell          = "image-shell"
	CheckPackageManager = "image-package-manager"
	CheckEndOfLife      = "image-end-of-life"
	CheckSecret         = "image-secret"
	CheckNotMinimal     = "image-not-minimal"
)

// A minimal base (distroless, scratch, a static image) has about this many
// distribution packages and this size; more is attack surface to patch.
const (
	minimalPackages = 20
	minimalSize     = 50 << 20
)

// endOfLife is when each distribution release stops getting security
// updates (Debian: the end of LTS; Ubuntu: the end of standard support;
// Alpine: the end of its security branch).
var endOfLife = map[string]string{
	"debian:9": "2022-06-30", "debian:10": "2024-06-30", "debian:11": "2026-08-31", "debian:12": "2028-06-30", "debian:13": "2030-06-30",
	"ubuntu:18.04": "2023-05-31", "ubuntu:20.04": "2025-05-31", "ubuntu:22.04": "2027-06-01", "ubuntu:24.04": "2029-06-01",
	"alpine:3.15": "2023-11-01", "alpine:3.16": "2024-05-23", "alpine:3.17": "2024-11-22", "alpine:3.18": "2025-05-09",
	"alpine:3.19": "2025-11-01", "alpine:3.20": "2026-04-01", "alpine:3.21": "2026-11-01", "alpine:3.22": "2027-05-01",
}

var shells = []string{"/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash", "/bin/zsh", "/usr/bin/bash", "/bin/busybox"}

var packageManagers = []string{"/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/sbin/apk", "/usr/bin/yum", "/usr/bin/dnf", "/usr/bin/rpm", "/usr/bin/microdnf", "/usr/bin/pip", "/usr/local/bin/pip"}

// Hygiene judges what the image is made of: the user it runs as, a shell
// and a package manager an attacker could use, a distribution past its end
// of life, credentials in its configuration or history (never shown).
func (r *Report) Hygiene(fsys *FS, now time.Time) {
	obj := finding.ObjectRef{Kind: "Image", Name: r.Image}
	add := func(id string, sev finding.Severity, title, field, msg, rem string) {
		r.Findings = append(r.Findings, finding.Finding{CheckID: id, Category: finding.CategoryImages, Severity: sev, Title: title,
			Object: obj, Field: field, Message: msg, Remediation: rem})
	}
	if cfg := fsys.Config; cfg != nil {
		u := cfg.Config.User
		name, _, _ := strings.Cut(u, ":")
		if name == "" || name == "0" || name == "root" {
			shown := u
			if shown == "" {
				shown = "no USER"
			}
			add(CheckRunsAsRoot, finding.Medium, "Image runs as root", "config.User",
				fmt.Sprintf("the image runs as root (%s) unless the pod sets runAsUser", shown),
				"Add USER with a numeric non-root ID to the Dockerfile (USER 65532), or set runAsNonRoot and runAsUser in the pod.")
		}
		for i, e := range cfg.Config.Env {
			k, v, _ := strings.Cut(e, "=")
			if kind, ok := secret.Detect(k, v); ok {
				add(CheckSecret, finding.High, "Credential in the image", fmt.Sprintf("config.Env[%d]", i),
					fmt.Sprintf("environment variable %s holds a credential (%s); its value is not shown", k, kind),
					"Remove the credential from the image (ENV and ARG persist in it) and pass it at run time from a Secret.")
			}
		}
		for i, h := range cfg.History {
			if ms := secret.Find(h.CreatedBy); len(ms) > 0 {
				add(CheckSecret, finding.High, "Credential in the image", fmt.Sprintf("history[%d].created_by", i),
					fmt.Sprintf("the command of history entry %d holds a credential (%s); it is not shown", i, ms[0].Kind),
					"Rebuild without the credential on the command line: use a build secret (RUN --mount=type=secret).")
			}
		}
	}
	for _, p := range shells {
		if f := fsys.Files[p]; f != nil {
			add(CheckShell, finding.Low, "Image has a shell", "files["+p+"]",
				fmt.Sprintf("%s is in the image (layer %d): an attacker in the container has a shell", p, f.Layer),
				"Build on a minimal base (distroless, scratch, or a static image) without a shell.")
			break
		}
	}
	for _, p := range packageManagers {
		if f := fsys.Files[p]; f != nil {
			add(CheckPackageManager, finding.Low, "Image has a package manager", "files["+p+"]",
				fmt.Sprintf("%s is in the image (layer %d): an attacker can install tools", p, f.Layer),
				"Use a multi-stage build whose final stage has no package manager.")
			break
		}
	}
	osPackages := 0
	for _, p := range r.Packages {
		if p.Type == "deb" || p.Type == "apk" || p.Type == "rpm" {
			osPackages++
		}
	}
	if osPackages > minimalPackages || fsys.Size > minimalSize {
		add(CheckNotMinimal, finding.Info, "Image is not minimal", "packages",
			fmt.Sprintf("%d distribution packages and %d MB of files; a minimal base (distroless, scratch) has under %d packages and %d MB", osPackages, fsys.Size>>20, minimalPackages, minimalSize>>20),
			"Build the final stage on a minimal base image: every package is something to patch and something an attacker can use.")
	}
	d := r.OS
	key := d.ID + ":" + d.Version
	if d.ID == "debian" || d.ID == "alpine" {
		parts := strings.Split(d.Version, ".")
		key = d.ID + ":" + parts[0]
		if d.ID == "alpine" && len(parts) > 1 {
			key += "." + parts[1]
		}
	}
	if end, ok := endOfLife[key]; ok {
		if t, err := time.Parse("2006-01-02", end); err == nil && !now.Before(t) {
			add(CheckEndOfLife, finding.High, "Image on an end-of-life distribution", "os",
				fmt.Sprintf("%s gets no security updates since %s", strings.TrimSpace(d.Name+" ("+key+")"), end),
				"Rebuild on a supported release of the distribution.")
		}
	}
}
