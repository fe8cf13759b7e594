package gelf

import (
	"net"
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
