package dockerlogs

import "testing"

func TestContainerIDIn(t *testing.T) {
	const id = "1a7d8c3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f901"
	const other = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	for _, tt := range []struct{ name, mountinfo, cgroup, want string }{
		{"cgroup v2, mounts", "651 640 0:52 / / rw - overlay overlay rw\n662 651 254:1 /var/lib/docker/containers/" + id + "/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n", "0::/\n", id},
		{"another data root", "662 651 254:1 /srv/docker/data/containers/" + id + "/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda1 rw\n", "", id},
		{"data root on a file system of its own", "662 651 254:1 /containers/" + id + "/hosts /etc/hosts rw - ext4 /dev/vdb1 rw\n", "", id},
		{"cgroup v1 only", "", "12:pids:/docker/" + id + "\n", id},
		{"systemd cgroup", "", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"not in a container", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n", "0::/user.slice\n", ""},
		{"on the host, beside a container's shm", "22 1 254:1 / / rw - ext4 /dev/vda1 rw\n" +
			"90 22 0:60 / /var/lib/docker/containers/" + other + "/mounts/shm rw - tmpfs shm rw\n", "0::/user.slice\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerIDIn(tt.mountinfo, tt.cgroup); got != tt.want {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}
