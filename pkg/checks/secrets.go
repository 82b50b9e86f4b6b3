package checks

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
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
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
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
		func(_ *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
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

// hardcodedCredentialArgs: literal credentials in a container's command
// line, its probes' and lifecycle hooks' exec commands: as a whole
// argument, the value of --name=value, the argument after --password or
// -p, or inside a shell string (mysql -pPW, PGPASSWORD=PW psql).
func hardcodedCredentialArgs() check.Check {
	return credentialCheck("hardcoded-credential-args", "Credential written in a command line", "in a command line", check.High, podScope,
		func(_ *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
				var out []check.Finding
				for _, l := range commandLines(c) {
					for _, h := range secret.Args(l.args) {
						field := l.field + "[" + itoa(h.Index) + "]"
						out = append(out, check.NewFinding(o, c.Path+"."+field,
							field+" of "+kindOf(c)+" \""+c.Name+"\" holds a "+h.Kind+" (value not shown)"))
					}
				}
				return out
			})
		})
}

type commandLine struct {
	field string
	args  []string
}

// commandLines are the argument lists a container runs: command, args, and
// the exec commands of its probes and lifecycle hooks.
func commandLines(c object.Container) []commandLine {
	out := []commandLine{{"command", c.Command}, {"args", c.Args}}
	for _, p := range probes(c) {
		if p.probe.Exec != nil {
			out = append(out, commandLine{p.field + ".exec.command", p.probe.Exec.Command})
		}
	}
	for _, h := range hooks(c) {
		if h.hook.Exec != nil {
			out = append(out, commandLine{h.field + ".exec.command", h.hook.Exec.Command})
		}
	}
	return out
}

type namedProbe struct {
	field string
	probe *corev1.Probe
}

func probes(c object.Container) []namedProbe {
	var out []namedProbe
	for _, p := range []namedProbe{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if p.probe != nil {
			out = append(out, p)
		}
	}
	return out
}

type namedHook struct {
	field string
	hook  *corev1.LifecycleHandler
}

func hooks(c object.Container) []namedHook {
	if c.Lifecycle == nil {
		return nil
	}
	var out []namedHook
	for _, h := range []namedHook{{"lifecycle.postStart", c.Lifecycle.PostStart}, {"lifecycle.preStop", c.Lifecycle.PreStop}} {
		if h.hook != nil {
			out = append(out, h)
		}
	}
	return out
}

// hardcodedCredentialConfigMap: literal credentials in ConfigMap data and
// binaryData, including key=value and key: value lines, URLs and commands
// inside file-like values.
func hardcodedCredentialConfigMap() check.Check {
	return credentialCheck("hardcoded-credential-configmap", "Credential written in a ConfigMap", "in a ConfigMap", check.High, check.Scope{Kinds: []string{"ConfigMap"}},
		func(_ *check.Context, o *object.Object) []check.Finding {
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
			for _, k := range sortedKeys(cm.BinaryData) {
				b := cm.BinaryData[k]
				if !utf8.Valid(b) {
					continue
				}
				if kind, ok := detectInText(k, string(b)); ok {
					out = append(out, check.NewFinding(o, manifest.JoinKey("binaryData", k), "ConfigMap binaryData key "+shownKey(k)+" holds a "+kind+" (value not shown)"))
				}
			}
			return out
		})
}

// hardcodedCredentialAnnotation: literal credentials in annotations and
// labels, the object's and its pod template's (kubectl's
// last-applied-configuration is skipped: it repeats the object).
func hardcodedCredentialAnnotation() check.Check {
	return credentialCheck("hardcoded-credential-annotation", "Credential written in an annotation or label", "in an annotation or a label", check.High, check.Scope{},
		func(_ *check.Context, o *object.Object) []check.Finding {
			var out []check.Finding
			metas := []struct {
				path                string
				annotations, labels map[string]string
			}{{"metadata", o.Annotations, objectLabels(o)}}
			if o.Pod != nil && o.Pod.Meta != nil && o.Pod.MetaPath != "metadata" {
				metas = append(metas, struct {
					path                string
					annotations, labels map[string]string
				}{o.Pod.MetaPath, o.Pod.Meta.Annotations, o.Pod.Meta.Labels})
			}
			for _, m := range metas {
				where := ""
				if m.path != "metadata" {
					where = " of the pod template"
				}
				for _, k := range sortedKeys(m.annotations) {
					if k == corev1.LastAppliedConfigAnnotation {
						continue
					}
					if kind, ok := detectInText(k, m.annotations[k]); ok {
						out = append(out, check.NewFinding(o, manifest.JoinKey(m.path+".annotations", k), "annotation "+shownKey(k)+where+" holds a "+kind+" (value not shown)"))
					}
				}
				for _, k := range sortedKeys(m.labels) {
					if kind, ok := secret.Detect(k, m.labels[k]); ok {
						out = append(out, check.NewFinding(o, manifest.JoinKey(m.path+".labels", k), "label "+shownKey(k)+where+" holds a "+kind+" (value not shown)"))
					}
				}
			}
			return out
		})
}

// objectLabels returns the object's own labels, when the scheme knows its
// kind.
func objectLabels(o *object.Object) map[string]string {
	if m, ok := o.Typed.(metav1.Object); ok {
		return m.GetLabels()
	}
	return nil
}

// hardcodedCredentialSpec: literal credentials in other fields of a spec:
// probes' and hooks' HTTP headers, CSI volume attributes (pods and
// PersistentVolumes), and the spec of custom resources.
func hardcodedCredentialSpec() check.Check {
	return credentialCheck("hardcoded-credential-spec", "Credential written in a spec field", "in a spec field (an HTTP header, a CSI volume attribute, a custom resource)", check.High, check.Scope{},
		func(_ *check.Context, o *object.Object) []check.Finding {
			var out []check.Finding
			if o.Pod != nil {
				out = append(out, perContainer(o, func(c object.Container) []check.Finding {
					var out []check.Finding
					headers := func(field string, h *corev1.HTTPGetAction) {
						if h == nil {
							return
						}
						for i, hd := range h.HTTPHeaders {
							if kind, ok := secret.Detect(hd.Name, hd.Value); ok {
								out = append(out, check.NewFinding(o, c.Path+"."+field+".httpGet.httpHeaders["+itoa(i)+"].value",
									"HTTP header "+shownKey(hd.Name)+" of "+field+" of "+kindOf(c)+" \""+c.Name+"\" holds a "+kind+" (value not shown)"))
							}
						}
					}
					for _, p := range probes(c) {
						headers(p.field, p.probe.HTTPGet)
					}
					for _, h := range hooks(c) {
						headers(h.field, h.hook.HTTPGet)
					}
					return out
				})...)
				for i, v := range o.Pod.Spec.Volumes {
					if v.CSI != nil {
						out = append(out, csiAttributes(o, o.Pod.SpecPath+".volumes["+itoa(i)+"].csi.volumeAttributes", v.CSI.VolumeAttributes)...)
					}
				}
			}
			switch t := o.Typed.(type) {
			case *corev1.PersistentVolume:
				if t.Spec.CSI != nil {
					out = append(out, csiAttributes(o, "spec.csi.volumeAttributes", t.Spec.CSI.VolumeAttributes)...)
				}
			case nil:
				if encrypted[o.Kind] {
					break
				}
				o.Strings("spec", func(path, key, value string) {
					if kind, ok := secret.Detect(key, value); ok {
						out = append(out, check.NewFinding(o, path, o.Kind+" field "+shownKey(key)+" holds a "+kind+" (value not shown)"))
					}
				})
			}
			return out
		})
}

// encrypted kinds hold credentials encrypted for the cluster: committing
// them is their purpose.
var encrypted = map[string]bool{"SealedSecret": true}

func csiAttributes(o *object.Object, path string, attrs map[string]string) []check.Finding {
	var out []check.Finding
	for _, k := range sortedKeys(attrs) {
		if kind, ok := secret.Detect(k, attrs[k]); ok {
			out = append(out, check.NewFinding(o, manifest.JoinKey(path, k), "CSI volume attribute "+shownKey(k)+" holds a "+kind+" (value not shown)"))
		}
	}
	return out
}

// credentialPlaceholder: stand-in values (changeme, admin, <password>)
// under secret names: not a leak, but a default someone will deploy.
func credentialPlaceholder() check.Check {
	return check.Check{
		ID:          "credential-placeholder",
		Title:       "Placeholder credential",
		Severity:    check.Info,
		Category:    check.CategorySecrets,
		Description: "A field whose name says it holds a credential carries a stand-in value (changeme, admin, <password>). It is not a leaked secret, but a default that reaches production unless something replaces it.",
		Remediation: "Load the value from a Secret (valueFrom.secretKeyRef, a mounted file) and leave no default in the manifest.",
		References:  secretRefs,
		Scope:       check.Scope{},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			var fields []string
			first := ""
			add := func(path, key, value string) {
				if secret.Placeholder(key, value) {
					if first == "" {
						first = path
					}
					fields = append(fields, shownKey(key))
				}
			}
			if o.Pod != nil {
				for _, c := range o.Pod.Containers() {
					for i, e := range c.Env {
						add(c.Path+".env["+itoa(i)+"].value", e.Name, e.Value)
					}
				}
			}
			if cm, ok := o.Typed.(*corev1.ConfigMap); ok {
				for _, k := range sortedKeys(cm.Data) {
					add(manifest.JoinKey("data", k), k, cm.Data[k])
				}
			}
			if o.Typed == nil && !encrypted[o.Kind] {
				o.Strings("spec", add)
			}
			if first == "" {
				return nil
			}
			return []check.Finding{check.NewFinding(o, first, "placeholder credential value in "+strings.Join(fields, ", ")+": set it from a Secret")}
		},
	}
}

// detectInText checks a value under its key, then every credential a free
// text can hold (key=value and key: value lines, URLs, commands, keys).
func detectInText(key, value string) (string, bool) {
	if kind, ok := secret.Detect(key, value); ok {
		return kind, true
	}
	if ms := secret.Find(value); len(ms) > 0 {
		return ms[0].Kind, true
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
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
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
