package image

import (
	"bytes"
	"testing"
)

// FuzzParsers feeds arbitrary bytes to every package database and manifest
// reader an image inventory uses: never a panic.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2)\n\n"))
	f.Add([]byte("P:musl\nV:1.2.5-r0\no:musl\n\n"))
	f.Add([]byte(`{"name":"@a/b","version":"1","packages":{"node_modules/x":{"version":"2"}}}`))
	f.Add([]byte("Metadata-Version: 2.1\nName: x\nVersion: 1\n"))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Distro{ID: "debian", Version: "12"}
		dpkg(data, "/var/lib/dpkg/status", 0, "Debian:12", d)
		apk(data, "/lib/apk/db/installed", 0, "Alpine:v3.20", d)
		npmPackage(data, "/n/node_modules/a/package.json")
		npmLock(data, "/package-lock.json")
		pythonPackage(data, "/x.dist-info/METADATA")
		jar(data, "/a.jar")
		goBinary(data, "/bin/x")
		rpm(data, "/var/lib/rpm/Packages", 0, "Red Hat", d)
		fsys := &FS{Files: map[string]*File{"/etc/os-release": {Path: "/etc/os-release", Data: data}}}
		fsys.OS()
		_, _ = fsys.apply(0, bytes.NewReader(data))
	})
}
