package checks

import (
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/secret"
)

// Secret values never reach a message: findings say where a credential is
// and what kind it looks like.

var secretRefs = []check.Ref{
	cis("5.4.1", "Prefer using Secrets as files over Secrets as environment variables"),
	nsaSecrets,
	ref("mitre", "T1552", "MITRE ATT&CK T1552: Unsecured Credentials", "https://attack.mitre.org/techniques/T1552/"),
}

// secretEnvVar: Secret values exposed as environment variables.
func secretEnvVar() check.Check {
	return check.Check{
		ID:          "secret-env-var",
		Title:       "Secret exposed as an environment variable",
		Severity:    check.Medium,
		Category:    check.CategorySecrets,
		Description: "Environment variables leak: they are inherited by every child process, printed by crash handlers and debug endpoints, and readable from /proc by anything in the container. Secrets mounted as files can be rotated and are not copied around.",
		Remediation: "Mount the Secret as a volume (readOnly) and have the program read the file, instead of valueFrom.secretKeyRef or envFrom.secretRef.",
		References:  secretRefs,
		Scope:       podScope,
		Run: func(_ *check.Context, o *inventory.Object) []check.Finding {
			return perContainer(o, func(c inventory.Container) []check.Finding {
				var out []check.Finding
				for i, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						out = append(out, check.NewFinding(o, c.Path+".env["+itoa(i)+"].valueFrom.secretKeyRef",
							kindOf(c)+" \""+c.Name+"\" reads Secret \""+e.ValueFrom.SecretKeyRef.Name+"\" into env var "+e.Name))
					}
				}
				for i, e := range c.EnvFrom {
					if e.SecretRef != nil {
						out = append(out, check.NewFinding(o, c.Path+".envFrom["+itoa(i)+"].secretRef",
							kindOf(c)+" \""+c.Name+"\" loads every key of Secret \""+e.SecretRef.Name+"\" into env vars"))
					}
				}
				return out
			})
		},
	}
}

func credentialCheck(id, title, where string, sev check.Severity, scope check.Scope, run check.RunFunc) check.Check {
	return check.Check{
		ID:          id,
		Title:       title,
		Severity:    sev,
		Category:    check.CategorySecrets,
		Description: "A credential written literally " + where + " is readable by everyone with access to the repository, the CI logs and the cluster's API, and cannot be rotated without a commit. Rampart recognises known token formats (cloud keys, GitHub and GitLab tokens, private keys, JWTs, passwords in URLs) and high-entropy values under secret-sounding names; it never prints the value.",
		Remediation: "Remove the value, rotate the credential, and load it from a Secret mounted as a file (or an external secret store).",
		References:  secretRefs,
		Scope:       scope,
		Run:         run,
	}
}

// hardcodedCredentialEnv: literal credentials in env values.
func hardcodedCredentialEnv() check.Check {
	return credentialCheck("hardcoded-credential-env", "Credential written in an env var", "in an environment variable", check.Critical, podScope,
		func(_ *check.Context, o *inventory.Object) []check.Finding {
			return perContainer(o, func(c inventory.Container) []check.Finding {
				var out []check.Finding
				for i, e := range c.Env {
					if kind, ok := secret.Detect(e.Name, e.Value); ok {
						out = append(out, check.NewFinding(o, c.Path+".env["+itoa(i)+"].value",
							"env var "+shownKey(e.Name)+" of "+kindOf(c)+" \""+c.Name+"\" holds a "+kind+" (value not shown)"))
					}
				}
				return out
			})
		})
}

// hardcodedCredentialArgs: literal credentials in command or args, as a
// whole argument or as the value of --name=value.
func hardcodedCredentialArgs() check.Check {
	return credentialCheck("hardcoded-credential-args", "Credential written in command arguments", "in a command line", check.High, podScope,
		func(_ *check.Context, o *inventory.Object) []check.Finding {
			return perContainer(o, func(c inventory.Container) []check.Finding {
				var out []check.Finding
				for _, list := range []struct {
					field string
					args  []string
				}{{"command", c.Command}, {"args", c.Args}} {
					for i, a := range list.args {
						key, value := "", a
						if k, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok {
							key, value = k, v
						}
						if kind, ok := secret.Detect(key, value); ok {
							out = append(out, check.NewFinding(o, c.Path+"."+list.field+"["+itoa(i)+"]",
								list.field+"["+itoa(i)+"] of "+kindOf(c)+" \""+c.Name+"\" holds a "+kind+" (value not shown)"))
						}
					}
				}
				return out
			})
		})
}

// hardcodedCredentialConfigMap: literal credentials in ConfigMap data,
// including key=value and key: value lines inside file-like values.
func hardcodedCredentialConfigMap() check.Check {
	return credentialCheck("hardcoded-credential-configmap", "Credential written in a ConfigMap", "in a ConfigMap", check.High, check.Scope{Kinds: []string{"ConfigMap"}},
		func(_ *check.Context, o *inventory.Object) []check.Finding {
			cm, ok := o.Typed.(*corev1.ConfigMap)
			if !ok {
				return nil
			}
			var out []check.Finding
			for _, k := range sortedKeys(cm.Data) {
				if kind, ok := detectInText(k, cm.Data[k]); ok {
					out = append(out, check.NewFinding(o, manifest.JoinKey("data", k), "ConfigMap key "+shownKey(k)+" holds a "+kind+" (value not shown)"))
				}
			}
			return out
		})
}

// hardcodedCredentialAnnotation: literal credentials in annotations
// (kubectl's last-applied-configuration is skipped: it repeats the object).
func hardcodedCredentialAnnotation() check.Check {
	return credentialCheck("hardcoded-credential-annotation", "Credential written in an annotation", "in an annotation", check.High, check.Scope{},
		func(_ *check.Context, o *inventory.Object) []check.Finding {
			var out []check.Finding
			for _, k := range sortedKeys(o.Annotations) {
				if k == corev1.LastAppliedConfigAnnotation {
					continue
				}
				if kind, ok := detectInText(k, o.Annotations[k]); ok {
					out = append(out, check.NewFinding(o, manifest.JoinKey("metadata.annotations", k), "annotation "+shownKey(k)+" holds a "+kind+" (value not shown)"))
				}
			}
			return out
		})
}

// detectInText checks a value, then each "key=value" or "key: value" line
// of a multi-line value.
func detectInText(key, value string) (string, bool) {
	if kind, ok := secret.Detect(key, value); ok {
		return kind, true
	}
	if !strings.Contains(value, "\n") {
		return "", false
	}
	for _, line := range strings.Split(value, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if ok {
			if kind, ok := secret.Detect(strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)); ok {
				return kind, true
			}
		}
	}
	return "", false
}

// secretInManifest: Secret objects with data committed to the manifests.
func secretInManifest() check.Check {
	return check.Check{
		ID:          "secret-in-manifest",
		Title:       "Secret data committed to manifests",
		Severity:    check.Medium,
		Category:    check.CategorySecrets,
		Description: "A Secret manifest holds its values in base64, which is an encoding, not encryption: whoever reads the repository reads the secret. Secrets belong in an external store or are encrypted before they are committed (Sealed Secrets, SOPS, External Secrets).",
		Remediation: "Remove the Secret's data from the repository, rotate the values, and generate the Secret from an encrypted source or an external secret store.",
		References:  secretRefs,
		Scope:       check.Scope{Kinds: []string{"Secret"}},
		Run: func(_ *check.Context, o *inventory.Object) []check.Finding {
			s, ok := o.Typed.(*corev1.Secret)
			if !ok || s.Type == corev1.SecretTypeServiceAccountToken {
				return nil
			}
			var out []check.Finding
			if len(s.Data) > 0 {
				out = append(out, check.NewFinding(o, "data", "Secret holds "+itoa(len(s.Data))+" value(s) in data: "+strings.Join(shownKeys(sortedKeys(s.Data)), ", ")))
			}
			if len(s.StringData) > 0 {
				out = append(out, check.NewFinding(o, "stringData", "Secret holds "+itoa(len(s.StringData))+" plain-text value(s) in stringData: "+strings.Join(shownKeys(sortedKeys(s.StringData)), ", ")))
			}
			return out
		},
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// keyName is what a key of data, an env var name or an annotation key looks
// like; anything else (a "PASSWORD=hunter2" line pasted as a key) may be a
// value, and is not printed.
var keyName = regexp.MustCompile(`^[-._a-zA-Z0-9/]{1,253}$`)

func shownKey(k string) string {
	if keyName.MatchString(k) {
		return k
	}
	return "(a key that looks like a value; not shown)"
}

func shownKeys(ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = shownKey(k)
	}
	return out
}
