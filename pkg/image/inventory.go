package image

import (
	"archive/zip"
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"io"
	"net/textproto"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
	"github.com/package-url/packageurl-go"
)

// Package is one package an image holds.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem: "Debian:12", "Alpine:v3.20",
	// "Ubuntu:24.04", "Go", "npm", "PyPI", "Maven".
	Ecosystem string `json:"ecosystem"`
	PURL      string `json:"purl"`
	// Type is how it was found: deb, apk, go-module, go-stdlib, npm,
	// pypi, maven.
	Type string `json:"type"`
	// Source is the source package (dpkg's Source, apk's origin), which
	// distro advisories name; SourceVersion its version when it differs.
	Source        string `json:"source,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Path is the file that lists it (or is it: a binary, a JAR).
	Path string `json:"path"`
	// Layer is the index of the layer that wrote that file.
	Layer int `json:"layer"`
}

// wanted says whether a file's content is read, and how.
func wanted(p string, mode int64, size int64) (text bool, binary bool) {
	base := path.Base(p)
	switch {
	case p == "/var/lib/dpkg/status", strings.HasPrefix(p, "/var/lib/dpkg/status.d/"),
		p == "/lib/apk/db/installed", p == "/etc/os-release", p == "/usr/lib/os-release",
		p == "/var/lib/rpm/Packages", p == "/usr/lib/sysimage/rpm/Packages":
		return true, false
	case base == "package.json" && strings.Contains(p, "/node_modules/"):
		return true, false
	case base == "package-lock.json":
		return true, false
	case (base == "METADATA" && strings.HasSuffix(path.Dir(p), ".dist-info")) || (base == "PKG-INFO" && strings.HasSuffix(path.Dir(p), ".egg-info")):
		return true, false
	case isArchive(base):
		return false, true
	case mode&0o111 != 0 && size >= 1024:
		return false, true
	}
	return false, false
}

// isArchive reports a Java archive by its name.
func isArchive(name string) bool {
	return strings.HasSuffix(name, ".jar") || strings.HasSuffix(name, ".war") || strings.HasSuffix(name, ".ear")
}

// capture reads what the inventory needs of a regular file from its layer;
// the packages it finds carry the file's layer.
func capture(f *File, r io.Reader) error {
	defer func() {
		for i := range f.Packages {
			f.Packages[i].Layer = f.Layer
		}
	}()
	text, bin := wanted(f.Path, f.Mode, f.Size)
	if !text && !bin {
		return nil
	}
	if f.Size > maxCapture {
		return nil // too large to read: left out of the inventory
	}
	if bin && !isArchive(f.Path) {
		// An executable: only an ELF file may be a Go binary; its header
		// is read before a buffer of its size is made.
		var magic [4]byte
		if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != "\x7fELF" {
			return nil
		}
		buf := make([]byte, f.Size)
		copy(buf, magic[:])
		if _, err := io.ReadFull(r, buf[4:]); err != nil {
			return err
		}
		f.Packages = goBinary(buf, f.Path)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, f.Size))
	if err != nil {
		return err
	}
	if bin {
		f.Packages = jar(data, f.Path)
		return nil
	}
	base := path.Base(f.Path)
	switch {
	case base == "package.json":
		f.Packages = npmPackage(data, f.Path)
	case base == "package-lock.json":
		f.Packages = npmLock(data, f.Path)
	case base == "METADATA" || base == "PKG-INFO":
		f.Packages = pythonPackage(data, f.Path)
	default:
		f.Data = data // OS databases: read once the distribution is known
	}
	return nil
}

// Distro is the image's operating system, from os-release.
type Distro struct {
	ID       string `json:"id"`
	Version  string `json:"version"`
	Codename string `json:"codename,omitempty"`
	Name     string `json:"name,omitempty"`
}

// OS reads /etc/os-release (or /usr/lib/os-release).
func (fsys *FS) OS() Distro {
	var d Distro
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f := fsys.Files[p]
		if f == nil || f.Data == nil {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				d.ID = v
			case "VERSION_ID":
				d.Version = v
			case "VERSION_CODENAME":
				d.Codename = v
			case "PRETTY_NAME":
				d.Name = v
			}
		}
		break
	}
	return d
}

// ecosystem is the OSV ecosystem of the distribution's packages.
func (d Distro) ecosystem() string {
	switch d.ID {
	case "debian":
		major, _, _ := strings.Cut(d.Version, ".")
		if major == "" {
			return "Debian"
		}
		return "Debian:" + major
	case "ubuntu":
		return "Ubuntu:" + d.Version
	case "alpine":
		parts := strings.Split(d.Version, ".")
		if len(parts) >= 2 {
			return "Alpine:v" + parts[0] + "." + parts[1]
		}
		return "Alpine"
	case "wolfi":
		return "Wolfi"
	case "rocky":
		return "Rocky Linux:" + major(d.Version)
	case "almalinux":
		return "AlmaLinux:" + major(d.Version)
	case "rhel":
		return "Red Hat:" + major(d.Version)
	case "chainguard":
		return "Chainguard"
	}
	return ""
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// packageDB reports a distribution's package database, which every
// package command rewrites whole.
func packageDB(p string) bool {
	return p == "/var/lib/dpkg/status" || p == "/lib/apk/db/installed" || strings.HasSuffix(p, "/rpm/Packages")
}

// readDB reads one version of a package database.
func readDB(p string, data []byte, layer int, eco string, d Distro) []Package {
	switch {
	case p == "/var/lib/dpkg/status" || strings.HasPrefix(p, "/var/lib/dpkg/status.d/"):
		return dpkg(data, p, layer, eco, d)
	case p == "/lib/apk/db/installed":
		return apk(data, p, layer, eco, d)
	case strings.HasSuffix(p, "/rpm/Packages"):
		return rpm(data, p, layer, eco, d)
	}
	return nil
}

// Packages lists the image's packages, sorted (type, name, version, path).
// A distribution package's layer is the one that installed the version the
// image holds: the earliest layer from which every later version of the
// database lists it.
func (fsys *FS) Packages() []Package {
	d := fsys.OS()
	eco := d.ecosystem()
	var out []Package
	for _, p := range fsys.Paths() {
		f := fsys.Files[p]
		out = append(out, f.Packages...)
		if f.Data == nil {
			continue
		}
		pkgs := readDB(p, f.Data, f.Layer, eco, d)
		sets := make([]map[string]bool, len(f.Earlier))
		for j := range pkgs {
			key := pkgs[j].Name + "\x00" + pkgs[j].Version
			for i := len(f.Earlier) - 1; i >= 0; i-- {
				if sets[i] == nil {
					sets[i] = map[string]bool{}
					for _, q := range readDB(p, f.Earlier[i].Data, 0, eco, d) {
						sets[i][q.Name+"\x00"+q.Version] = true
					}
				}
				if !sets[i][key] {
					break
				}
				pkgs[j].Layer = f.Earlier[i].Layer
			}
		}
		out = append(out, pkgs...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Path < b.Path
	})
	return out
}

// stanzas splits an RFC 822-style database (dpkg status, apk installed)
// into its paragraphs.
func stanzas(data []byte) []textproto.MIMEHeader {
	var out []textproto.MIMEHeader
	for _, para := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		r := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimLeft(para, "\n") + "\n\n")))
		h, err := r.ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			continue
		}
		out = append(out, h)
	}
	return out
}

// dpkg reads a dpkg status file: installed packages only.
func dpkg(data []byte, p string, layer int, eco string, d Distro) []Package {
	var out []Package
	for _, h := range stanzas(data) {
		name, version := h.Get("Package"), h.Get("Version")
		if name == "" || version == "" {
			continue
		}
		if st := h.Get("Status"); st != "" && !strings.HasSuffix(st, " installed") {
			continue
		}
		src, srcVersion := name, ""
		if s := h.Get("Source"); s != "" {
			src = s
			if n, v, ok := strings.Cut(s, " "); ok {
				src, srcVersion = n, strings.Trim(v, "()")
			}
		}
		q := packageurl.Qualifiers{}
		if a := h.Get("Architecture"); a != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: a})
		}
		if d.ID != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.Version})
		}
		if src != name {
			up := src
			if srcVersion != "" {
				up += "@" + srcVersion
			}
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: up})
		}
		ns := d.ID
		if ns == "" {
			ns = "debian"
		}
		out = append(out, Package{Name: name, Version: version, Ecosystem: eco, Type: "deb", Source: src, SourceVersion: srcVersion, Path: p, Layer: layer,
			PURL: packageurl.NewPackageURL("deb", ns, name, version, q, "").ToString()})
	}
	return out
}

// apk reads Alpine's installed database (P: name, V: version, o: origin).
func apk(data []byte, p string, layer int, eco string, d Distro) []Package {
	var out []Package
	for _, para := range strings.Split(string(data), "\n\n") {
		var name, version, origin, arch string
		for _, line := range strings.Split(para, "\n") {
			if len(line) < 2 || line[1] != ':' {
				continue
			}
			v := line[2:]
			switch line[0] {
			case 'P':
				name = v
			case 'V':
				version = v
			case 'o':
				origin = v
			case 'A':
				arch = v
			}
		}
		if name == "" || version == "" {
			continue
		}
		if origin == "" {
			origin = name
		}
		q := packageurl.Qualifiers{}
		if arch != "" {
			q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
		}
		if d.Version != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.Version})
		}
		if origin != name {
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: origin})
		}
		ns := d.ID
		if ns == "" {
			ns = "alpine"
		}
		out = append(out, Package{Name: name, Version: version, Ecosystem: eco, Type: "apk", Source: origin, Path: p, Layer: layer,
			PURL: packageurl.NewPackageURL("apk", ns, name, version, q, "").ToString()})
	}
	return out
}

// goBinary reads a Go binary's build information: its main module, its
// dependencies and the Go version it was built with (the standard library).
func goBinary(data []byte, p string) []Package {
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var out []Package
	add := func(name, version, typ string) {
		if version == "" || version == "(devel)" {
			return
		}
		ns, n := "", name
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			ns, n = name[:i], name[i+1:]
		}
		out = append(out, Package{Name: name, Version: version, Ecosystem: "Go", Type: typ, Path: p,
			PURL: packageurl.NewPackageURL("golang", ns, n, version, nil, "").ToString()})
	}
	add("stdlib", strings.TrimPrefix(bi.GoVersion, "go"), "go-stdlib")
	add(bi.Main.Path, bi.Main.Version, "go-module")
	for _, dep := range bi.Deps {
		m := dep
		if dep.Replace != nil {
			m = dep.Replace
		}
		add(m.Path, m.Version, "go-module")
	}
	return out
}

// npmPackage reads node_modules/NAME/package.json.
func npmPackage(data []byte, p string) []Package {
	var pj struct {
		Name, Version string
	}
	if json.Unmarshal(data, &pj) != nil || pj.Name == "" || pj.Version == "" {
		return nil
	}
	return []Package{npm(pj.Name, pj.Version, p)}
}

func npm(name, version, p string) Package {
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		if a, b, ok := strings.Cut(name, "/"); ok {
			ns, n = a, b
		}
	}
	return Package{Name: name, Version: version, Ecosystem: "npm", Type: "npm", Path: p,
		PURL: packageurl.NewPackageURL("npm", ns, n, version, nil, "").ToString()}
}

// npmLock reads a package-lock.json (lockfile versions 2 and 3: the
// "packages" map; version 1: "dependencies").
func npmLock(data []byte, p string) []Package {
	var lock struct {
		Packages map[string]struct {
			Name, Version string
			Link          bool
		}
		Dependencies map[string]struct{ Version string }
	}
	if json.Unmarshal(data, &lock) != nil {
		return nil
	}
	var out []Package
	for key, e := range lock.Packages {
		if key == "" || e.Link || e.Version == "" {
			continue
		}
		name := e.Name
		if i := strings.LastIndex(key, "node_modules/"); i >= 0 && name == "" {
			name = key[i+len("node_modules/"):]
		}
		if name != "" {
			out = append(out, npm(name, e.Version, p))
		}
	}
	if len(lock.Packages) == 0 {
		for name, e := range lock.Dependencies {
			if e.Version != "" {
				out = append(out, npm(name, e.Version, p))
			}
		}
	}
	return out
}

// pythonPackage reads a distribution's METADATA or PKG-INFO.
func pythonPackage(data []byte, p string) []Package {
	h := stanzas(data)
	if len(h) == 0 {
		return nil
	}
	name, version := h[0].Get("Name"), h[0].Get("Version")
	if name == "" || version == "" {
		return nil
	}
	return []Package{{Name: name, Version: version, Ecosystem: "PyPI", Type: "pypi", Path: p,
		PURL: packageurl.NewPackageURL("pypi", "", strings.ToLower(name), version, nil, "").ToString()}}
}

// jar reads the Maven coordinates a JAR carries (META-INF/maven/**/
// pom.properties), nested JARs one level down included.
func jar(data []byte, p string) []Package {
	budget := int64(jarBudget)
	return jarDepth(data, p, 0, &budget)
}

// jarBudget bounds what one JAR may make us decompress, nested JARs and
// their properties together (a zip can point many entries at one
// compressed blob).
const jarBudget = 256 << 20

func jarDepth(data []byte, p string, depth int, budget *int64) []Package {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil
	}
	var out []Package
entries:
	for _, zf := range zr.File {
		switch {
		case strings.HasPrefix(zf.Name, "META-INF/maven/") && strings.HasSuffix(zf.Name, "/pom.properties") && zf.UncompressedSize64 < 1<<20:
			if *budget <= 0 {
				break entries
			}
			rc, err := zf.Open()
			if err != nil {
				continue
			}
			props, _ := io.ReadAll(io.LimitReader(rc, min(1<<20, *budget)))
			_ = rc.Close()
			*budget -= int64(len(props)) + 1
			var group, artifact, version string
			for _, line := range strings.Split(string(props), "\n") {
				k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
				if !ok {
					continue
				}
				switch k {
				case "groupId":
					group = v
				case "artifactId":
					artifact = v
				case "version":
					version = v
				}
			}
			if group != "" && artifact != "" && version != "" {
				out = append(out, Package{Name: group + ":" + artifact, Version: version, Ecosystem: "Maven", Type: "maven", Path: p,
					PURL: packageurl.NewPackageURL("maven", group, artifact, version, nil, "").ToString()})
			}
		case depth == 0 && strings.HasSuffix(zf.Name, ".jar") && zf.UncompressedSize64 < 64<<20:
			if *budget <= 0 {
				break entries
			}
			rc, err := zf.Open()
			if err != nil {
				continue
			}
			inner, _ := io.ReadAll(io.LimitReader(rc, min(64<<20, *budget)))
			_ = rc.Close()
			*budget -= int64(len(inner)) + 1
			// A nested JAR's packages are the outer file's (its path).
			out = append(out, jarDepth(inner, p, 1, budget)...)
		}
	}
	return out
}

// srpmName is the package name of a source RPM's file name
// (NAME-VERSION-RELEASE[.src.rpm]), or "".
func srpmName(s string) string {
	s = strings.TrimSuffix(s, ".src.rpm")
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if j := strings.LastIndexByte(s[:i], '-'); j > 0 {
			return s[:j]
		}
	}
	return ""
}

// rpm reads an RPM database in the Berkeley DB format (RHEL and CentOS up
// to 8, UBI 8) with go-rpmdb; its version is [epoch:]version-release.
func rpm(data []byte, p string, layer int, eco string, d Distro) (out []Package) {
	defer func() {
		if recover() != nil {
			out = nil // a database the reader cannot walk: no packages, no crash
		}
	}()
	tmp, err := os.CreateTemp("", "rampart-rpmdb-")
	if err != nil {
		return nil
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return nil
	}
	if err := tmp.Close(); err != nil {
		return nil
	}
	db, err := rpmdb.Open(tmp.Name())
	if err != nil {
		return nil
	}
	list, err := db.ListPackages()
	if err != nil {
		return nil
	}
	for _, pkg := range list {
		if pkg.Name == "gpg-pubkey" {
			continue // keys, not software
		}
		version := pkg.Version + "-" + pkg.Release
		if pkg.Epoch > 0 {
			version = strconv.Itoa(pkg.Epoch) + ":" + version
		}
		src := pkg.Name
		if n := srpmName(pkg.SourceRpm); n != "" && strings.HasSuffix(pkg.SourceRpm, ".src.rpm") {
			src = n
		}
		q := packageurl.Qualifiers{{Key: "arch", Value: pkg.Arch}}
		if pkg.Epoch > 0 {
			q = append(q, packageurl.Qualifier{Key: "epoch", Value: strconv.Itoa(pkg.Epoch)})
		}
		if d.ID != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: d.ID + "-" + d.Version})
		}
		if src != pkg.Name {
			q = append(q, packageurl.Qualifier{Key: "upstream", Value: pkg.SourceRpm})
		}
		ns := d.ID
		if ns == "" {
			ns = "redhat"
		}
		out = append(out, Package{Name: pkg.Name, Version: version, Ecosystem: eco, Type: "rpm", Source: src, Path: p, Layer: layer,
			PURL: packageurl.NewPackageURL("rpm", ns, pkg.Name, pkg.Version+"-"+pkg.Release, q, "").ToString()})
	}
	return out
}
