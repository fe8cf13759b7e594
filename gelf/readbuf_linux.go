package gelf

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setReadBuffer asks for a receive buffer of size bytes. The kernel caps SO_RCVBUF at
// net.core.rmem_max; a process allowed to (CAP_NET_ADMIN) forces the size past it. Best
// effort: a smaller buffer still works, it only rides out shorter bursts.
func setReadBuffer(conn *net.UDPConn, size int) {
	if raw, err := conn.SyscallConn(); err == nil {
		var forced error
		raw.Control(func(fd uintptr) {
			forced = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size)
		})
		if forced == nil {
			return
		}
	}
	_ = conn.SetReadBuffer(size)
}

// socketDrops returns how many datagrams the kernel dropped for conn because its receive
// buffer was full: the drops column of /proc/net/udp (or udp6) on the line of the socket's
// inode. The kernel counts them per socket and nowhere else a program can read; zero when it
// cannot be read.
func socketDrops(conn *net.UDPConn) uint64 {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	var st syscall.Stat_t
	var statErr error
	if err := raw.Control(func(fd uintptr) { statErr = syscall.Fstat(int(fd), &st) }); err != nil || statErr != nil {
		return 0
	}
	inode := strconv.FormatUint(st.Ino, 10)
	for _, table := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		if n, ok := dropsOf(table, inode); ok {
			return n
		}
	}
	return 0
}

// dropsOf finds the socket with inode in a /proc/net/udp table and returns its drops.
func dropsOf(table, inode string) (uint64, bool) {
	data, err := os.ReadFile(table)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		f := strings.Fields(line)
		if len(f) >= 13 && f[9] == inode {
			n, err := strconv.ParseUint(f[12], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
