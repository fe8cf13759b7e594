package dockerlogs

import (
	"os"
	"strings"
)

// selfContainerID is the ID of the container this program runs in, or "" outside one.
func selfContainerID() string {
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	cgroup, _ := os.ReadFile("/proc/self/cgroup")
	return containerIDIn(string(mountinfo), string(cgroup))
}

// engineFiles are the files the engine keeps for a container in its folder
// (DATA-ROOT/containers/ID/) and mounts into it.
var engineFiles = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}

// containerIDIn finds the ID of the container a process runs in: in the mount of one of
// engineFiles (cgroup v1 and v2 alike), else in its cgroup path (v1: /docker/ID; systemd:
// docker-ID.scope). Only those mount points count: on the host itself the engine mounts
// other things of its containers' folders (a shareable IPC's shm) that name a container the
// process is not in.
func containerIDIn(mountinfo, cgroup string) string {
	for line := range strings.Lines(mountinfo) {
		// ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...
		f := strings.Fields(line)
		if len(f) < 5 || !engineFiles[f[4]] {
			continue
		}
		_, rest, ok := strings.Cut(f[3], "/containers/")
		if id, _, ok2 := strings.Cut(rest, "/"); ok && ok2 && isContainerID(id) {
			return id
		}
	}
	for _, field := range strings.FieldsFunc(cgroup, func(r rune) bool { return r == '/' || r == '\n' || r == '-' || r == '.' }) {
		if isContainerID(field) {
			return field
		}
	}
	return ""
}

func isContainerID(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}
